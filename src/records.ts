/** A JSON object (not an array, not null, not a Buffer): what a request body, a reference or a config entry must be. */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);

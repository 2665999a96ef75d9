import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
/** The service version reported in headers and /models. */
export const SERVICE_VERSION: string = pkg.version;

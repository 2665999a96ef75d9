/**
 * Writes packages/cli/src/api.d.ts, the client's request and response types, from openapi.yaml with
 * openapi-typescript: `npm run api-types -w packages/cli` after changing the API document.
 * test/cli/api-types.test.ts regenerates it and fails when the committed file differs.
 */
import { writeFileSync } from 'node:fs';
import openapiTS, { astToString } from 'openapi-typescript';

export const API_DOCUMENT = new URL('../../../openapi.yaml', import.meta.url);
export const API_TYPES = new URL('../src/api.d.ts', import.meta.url);

const BANNER = `/**
 * Generated from openapi.yaml by openapi-typescript (packages/cli/scripts/api-types.ts): do not edit;
 * run \`npm run api-types -w packages/cli\` instead. test/cli/api-types.test.ts checks it is up to date.
 */

`;

export async function apiTypes(): Promise<string> {
  return BANNER + astToString(await openapiTS(API_DOCUMENT));
}

if (import.meta.main) {
  writeFileSync(API_TYPES, await apiTypes());
  process.stdout.write(`wrote ${API_TYPES.pathname}\n`);
}

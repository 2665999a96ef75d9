// The typed client's request and response types (packages/cli/src/api.d.ts) are what openapi-typescript makes of
// openapi.yaml now: regenerated here and compared, so the client's types cannot drift from the API document the
// service validates against. After changing openapi.yaml: `npm run api-types -w packages/cli`.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { API_TYPES, apiTypes } from '../../packages/cli/scripts/api-types.ts';

t.test('packages/cli/src/api.d.ts is generated from the current openapi.yaml', async (t) => {
  const committed = readFileSync(API_TYPES, 'utf8');
  const fresh = await apiTypes();
  t.ok(
    fresh.includes('ClassifyResponse: {') && fresh.includes('EmbedImageResponse: {'),
    'the generator reads the document (the schemas the client uses are there)',
  );
  t.equal(committed, fresh, 'api.d.ts equals a fresh generation (else run `npm run api-types -w packages/cli`)');
});

// Cross-origin requests (CORS_ORIGINS): a foreign Origin is refused with 403 before the body is read and gets no
// CORS grant; listed origins get CORS headers and preflights (also when API keys are on); the service's own page
// (Origin = the Host it called) is served. Real HTTP on 127.0.0.1, the demo model.
import { once } from 'node:events';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { buildApp } from '../../../src/app.ts';
import { loadConfig } from '../../../src/config.ts';
import { loadRegistry, ROOT, silentLogger, testConfig } from '../../helpers/common.ts';

const { registry, metrics } = await loadRegistry();
const apps: { close(): Promise<unknown> }[] = [];
t.teardown(async () => {
  for (const app of apps) await app.close();
  await registry.close();
});

async function serve(env: Record<string, string>): Promise<string> {
  const app = await buildApp({ config: testConfig(env), metrics, registry, logger: silentLogger });
  apps.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

const VIEWER = 'https://viewer.example.org';
const KEY = 'viewer-key-0123456789abcdef';
const url = await serve({ CORS_ORIGINS: `${VIEWER},http://localhost:3000`, API_KEYS: `viewer:${KEY}` });
const embed = (origin: string | undefined, key = KEY): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...(origin === undefined ? {} : { origin }) },
  body: JSON.stringify({ texts: ['chest x-ray'] }),
});

t.test('a foreign origin: 403 origin_not_allowed, no CORS grant, before the body is read', async (t) => {
  const res = await fetch(url + '/embed/text', embed('https://evil.example'));
  t.equal(res.status, 403);
  t.equal(((await res.json()) as { error: { code: string } }).error.code, 'origin_not_allowed');
  t.equal(res.headers.get('access-control-allow-origin'), null, 'no grant');
  t.equal((await fetch(url + '/healthz', { headers: { origin: 'https://evil.example' } })).status, 403, 'on open routes too');

  // Headers announce a 1 MB body that is never sent: the answer comes all the same, so nothing waited for the body.
  const req = request(url + '/embed/image', {
    method: 'POST',
    headers: { origin: 'null', 'content-type': 'image/png', 'content-length': String(1 << 20), authorization: `Bearer ${KEY}` },
  });
  req.flushHeaders();
  const [answer] = (await once(req, 'response')) as [IncomingMessage];
  t.equal(answer.statusCode, 403, 'answered without the body');
  answer.resume();
  req.destroy();
});

t.test('a listed origin gets CORS headers and its preflight, without a key on the preflight', async (t) => {
  const res = await fetch(url + '/embed/text', embed(VIEWER));
  t.equal(res.status, 200);
  t.equal(res.headers.get('access-control-allow-origin'), VIEWER);
  t.match(res.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
  const preflight = await fetch(url + '/embed/text', {
    method: 'OPTIONS',
    headers: { origin: VIEWER, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });
  t.equal(preflight.status, 204, 'preflight answered');
  t.equal(preflight.headers.get('access-control-allow-origin'), VIEWER);
  t.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
  t.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
  const foreign = await fetch(url + '/embed/text', {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  t.equal(foreign.status, 403, 'a foreign preflight: 403');
  t.equal(foreign.headers.get('access-control-allow-origin'), null);
  t.equal((await fetch(url + '/embed/text', embed(VIEWER, 'wrong-key-0123456789abcdef'))).status, 401, 'the key is still checked');
});

t.test('an incomplete preflight gets the JSON error shape', async (t) => {
  for (const headers of [{ 'access-control-request-method': 'POST' }, { origin: VIEWER }] as Record<string, string>[]) {
    const res = await fetch(url + '/embed/text', { method: 'OPTIONS', headers });
    t.equal(res.status, 400);
    t.match(res.headers.get('content-type') ?? '', /^application\/json/);
    t.equal(((await res.json()) as { error: { code: string } }).error.code, 'bad_request');
  }
});

t.test("the service's own page: Origin is the service itself", async (t) => {
  const own = new URL(url).origin;
  t.equal((await fetch(url + '/embed/text', embed(own))).status, 200, 'own origin allowed');
  const open = await serve({});
  t.equal((await fetch(open + '/embed/text', embed(new URL(open).origin))).status, 200, 'with CORS_ORIGINS empty too');
  t.equal((await fetch(open + '/embed/text', embed(VIEWER))).status, 403, 'and every other origin refused');
  t.equal((await fetch(open + '/embed/text', embed(undefined))).status, 200, 'no Origin (not a browser): served');
});

t.test('CORS_ORIGINS takes origins only', (t) => {
  t.throws(
    () => loadConfig({ CORS_ORIGINS: 'https://viewer.example.org/path' }, ROOT),
    /CORS_ORIGINS: "https:\/\/viewer.example.org\/path" is not an origin/,
  );
  t.throws(() => loadConfig({ CORS_ORIGINS: '*' }, ROOT), /is not an origin/);
  t.same(loadConfig({ CORS_ORIGINS: 'https://a.example, http://b.example:8080' }, ROOT).security.corsOrigins, [
    'https://a.example',
    'http://b.example:8080',
  ]);
  t.end();
});

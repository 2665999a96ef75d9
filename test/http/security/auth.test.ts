// API keys (docs/security.md "API keys"): keys from API_KEYS_FILE and API_KEYS, 401/403 on real
// HTTP against the demo model, open routes, per-key model and route lists, the file re-read on change (written
// in place, and swapped through a symlink as a Kubernetes Secret update does), a bad file at start and on reload.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../../src/app.ts';
import { loadConfig } from '../../../src/config.ts';
import { ConfigError } from '../../../src/config/env.ts';
import { capturedLogger, DEMO, loadRegistry, ROOT, testConfig, until } from '../../helpers/common.ts';

const { registry, metrics } = await loadRegistry();
const dir = mkdtempSync(join(tmpdir(), 'unimed-keys-'));
const { logger, lines: logLines } = capturedLogger('info');
const apps: { close(): Promise<unknown> }[] = [];
t.teardown(async () => {
  for (const app of apps) await app.close();
  await registry.close();
  rmSync(dir, { recursive: true, force: true });
});

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-0123456789abcdef';
const CAROL = 'carol-key-0123456789abcdef';
const hex = (key: string) => createHash('sha256').update(key).digest('hex');

async function serve(env: Record<string, string>): Promise<string> {
  const config = testConfig(env);
  const app = await buildApp({ config, metrics, registry, logger });
  apps.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

const textBody = (model?: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ texts: ['chest x-ray'], ...(model === undefined ? {} : { model }) }),
});
const withKey = (key: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${key}` },
});
async function status(url: string, init: RequestInit = {}): Promise<{ status: number; code?: string; challenge: string | null }> {
  const res = await fetch(url, init);
  const body = (await res.json().catch(() => undefined)) as { error?: { code: string } } | undefined;
  return { status: res.status, ...(body?.error ? { code: body.error.code } : {}), challenge: res.headers.get('www-authenticate') };
}

const keysFile = join(dir, 'keys');
writeFileSync(
  keysFile,
  [`# one key per line`, `alice:${ALICE}`, `bob:sha256:${hex(BOB)} routes=embed_text,models`, `carol:${CAROL} models=other-model`, ''].join(
    '\n',
  ),
);
const url = await serve({ API_KEYS_FILE: keysFile });

t.test('a key is needed, sent as a bearer token; 401 says so', async (t) => {
  const none = await status(url + '/embed/text', textBody());
  t.same([none.status, none.code], [401, 'unauthorized'], 'no key: 401');
  t.match(none.challenge, /^Bearer realm=/, 'WWW-Authenticate: Bearer');
  const wrong = await status(url + '/embed/text', withKey('not-a-key-0123456789abcdef', textBody()));
  t.same([wrong.status, wrong.code], [401, 'unauthorized'], 'wrong key: 401');
  t.match(wrong.challenge, /error="invalid_token"/);
  const basic = await status(url + '/embed/text', {
    ...textBody(),
    headers: { 'content-type': 'application/json', authorization: `Basic ${ALICE}` },
  });
  t.equal(basic.status, 401, 'another scheme: 401');
  t.equal((await status(url + '/embed/text', withKey(ALICE, textBody()))).status, 200, 'alice (plain key): 200');
  t.equal((await status(url + '/models', withKey(BOB))).status, 200, 'bob (sha256 form): 200');
  for (const path of ['/models', '/prompt-sets', '/metrics', '/nowhere'])
    t.equal((await status(url + path)).status, 401, `${path} without a key: 401`);
});

t.test('probes and documentation are open without a key', async (t) => {
  for (const path of ['/healthz', '/readyz', '/openapi.json', '/openapi.yaml', '/docs', '/docs/static/swagger-ui.css']) {
    t.equal((await fetch(url + path)).status, 200, `${path}: 200`);
  }
});

t.test('routes= and models= restrict a key: 403', async (t) => {
  t.equal((await status(url + '/embed/text', withKey(BOB, textBody()))).status, 200, 'bob may embed texts');
  const classify = await status(
    url + '/classify',
    withKey(BOB, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
  );
  t.same([classify.status, classify.code], [403, 'forbidden'], 'bob may not classify');
  t.equal((await status(url + '/prompt-sets', withKey(BOB))).status, 403, 'nor list prompt sets');
  const carol = await status(url + '/embed/text', withKey(CAROL, textBody()));
  t.same([carol.status, carol.code], [403, 'forbidden'], 'carol may not use the default model');
  t.equal((await status(url + '/embed/text', withKey(CAROL, textBody('unimed-demo')))).status, 403, 'nor name it');
  t.equal((await status(url + '/models', withKey(CAROL))).status, 200, 'carol may list models');
});

t.test('API_KEYS: comma-separated entries, options included', async (t) => {
  const envUrl = await serve({ API_KEYS: `alice:${ALICE} routes=embed_text,models, bob:sha256:${hex(BOB)} models=unimed-demo` });
  t.equal((await status(envUrl + '/embed/text', withKey(ALICE, textBody()))).status, 200);
  t.equal((await status(envUrl + '/models', withKey(ALICE))).status, 200, 'the second item of a list is not taken for a key');
  t.equal((await status(envUrl + '/prompt-sets', withKey(ALICE))).status, 403);
  t.equal((await status(envUrl + '/embed/text', withKey(BOB, textBody()))).status, 200);
});

t.test('API_KEYS_FILE is re-read when it changes; a bad file keeps the keys in force', async (t) => {
  const dave = 'dave-key-0123456789abcdef';
  writeFileSync(keysFile, `alice:${ALICE}\ndave:${dave}\n`);
  await until('dave to be accepted', async () => (await status(url + '/models', withKey(dave))).status === 200);
  await until('bob to be refused', async () => (await status(url + '/models', withKey(BOB))).status === 401);

  const warnings = logLines.length;
  writeFileSync(keysFile, `alice:${ALICE}\ndave:${dave}\nerin:Xyzzy9\n`);
  const warning = await until('a warning about the bad file', () =>
    logLines.slice(warnings).find((l) => l.includes('API_KEYS_FILE changed but is not valid')),
  );
  t.match(warning, /line 3/, 'the warning names the line');
  t.notMatch(warning, /Xyzzy9|dave-key/, 'and never its text');
  t.equal((await status(url + '/models', withKey(dave))).status, 200, 'the keys in force stay');

  const emptied = logLines.length;
  writeFileSync(keysFile, '# all keys removed\n');
  await until('a warning about a file without keys', () => logLines.slice(emptied).some((l) => l.includes('would leave no API key')));
  t.equal((await status(url + '/models')).status, 401, 'an emptied file does not open the service');
  t.equal((await status(url + '/models', withKey(dave))).status, 200, 'the keys in force stay');
});

t.test('a Secret-style update (symlink swapped) is picked up', async (t) => {
  const mount = join(dir, 'secret');
  mkdirSync(join(mount, '..v1'), { recursive: true });
  writeFileSync(join(mount, '..v1', 'keys'), `alice:${ALICE}\n`);
  symlinkSync('..v1', join(mount, '..data'));
  symlinkSync('..data/keys', join(mount, 'keys'));
  const secretUrl = await serve({ API_KEYS_FILE: join(mount, 'keys') });
  t.equal((await status(secretUrl + '/models', withKey(ALICE))).status, 200, 'the first version serves');

  const frank = 'frank-key-0123456789abcdef';
  mkdirSync(join(mount, '..v2'));
  writeFileSync(join(mount, '..v2', 'keys'), `frank:${frank}\n`);
  symlinkSync('..v2', join(mount, '..data_tmp'));
  renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
  await until('the new key to be accepted', async () => (await status(secretUrl + '/models', withKey(frank))).status === 200);
  t.equal((await status(secretUrl + '/models', withKey(ALICE))).status, 401, 'the old key is gone');
});

t.test('keys at start: a bad file names its line (never its text), REQUIRE_AUTH needs a key', (t) => {
  const bad = join(dir, 'bad-keys');
  writeFileSync(bad, `alice:${ALICE}\n\nbob:too-short rate=5/second\n`);
  t.throws(
    () => loadConfig({ API_KEYS_FILE: bad }, ROOT),
    new ConfigError(`API_KEYS_FILE (${bad}) line 3: the key is shorter than 16 characters`),
  );
  writeFileSync(bad, `alice:${ALICE} rate=5/hour\n`);
  t.throws(() => loadConfig({ API_KEYS_FILE: bad }, ROOT), /line 1: rate= must be/);
  writeFileSync(bad, `alice:${ALICE}\nalice:${BOB}\n`);
  t.throws(() => loadConfig({ API_KEYS_FILE: bad }, ROOT), /"alice" is given twice/);
  t.throws(() => loadConfig({ API_KEYS: `alice:sha256:abc` }, ROOT), /API_KEYS entry 1: sha256: must be followed by 64 hexadecimal digits/);
  t.throws(() => loadConfig({ API_KEYS_FILE: join(dir, 'missing') }, ROOT), /API_KEYS_FILE \S+missing cannot be read \(ENOENT\)/);
  t.throws(() => loadConfig({ REQUIRE_AUTH: 'true' }, ROOT), /REQUIRE_AUTH=true but no API key/);
  t.throws(() => loadConfig({ REQUIRE_AUTH: 'yes' }, ROOT), /REQUIRE_AUTH must be true or false/);
  t.equal(loadConfig({ REQUIRE_AUTH: 'true', API_KEYS: `a:${ALICE}` }, ROOT).security.envKeys.length, 1);
  const config = loadConfig({ API_KEYS: `a:${ALICE}` }, ROOT);
  t.notOk(JSON.stringify(config.security).includes(ALICE), 'the configuration holds no key, only its hash');

  // The real entry point refuses to start, exit code 2, naming the variable.
  const run = spawnSync(process.execPath, ['src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, MODEL_DIRS: DEMO, REQUIRE_AUTH: 'true', API_KEYS: '', API_KEYS_FILE: '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(run.status, 2, 'exit code 2');
  t.match(run.stderr, /configuration error: REQUIRE_AUTH=true but no API key/);
  t.end();
});

t.test('without keys the service is open and says so at start', async (t) => {
  const before = logLines.length;
  const openUrl = await serve({});
  t.equal((await status(openUrl + '/embed/text', textBody())).status, 200, 'no key needed');
  t.ok(
    logLines.slice(before).some((l) => l.includes('no API key is configured')),
    'a warning at start',
  );
});

t.test("rate=: past a key's rate, 429 with Retry-After; counted per key, across routes", async (t) => {
  const rateUrl = await serve({ API_KEYS: `alice:${ALICE} rate=2/minute, bob:${BOB}` });
  t.equal((await status(rateUrl + '/models', withKey(ALICE))).status, 200, '1st');
  t.equal((await status(rateUrl + '/embed/text', withKey(ALICE, textBody()))).status, 200, '2nd, another route');
  const over = await fetch(rateUrl + '/models', withKey(ALICE));
  const body = (await over.json()) as { error: { code: string; message: string } };
  t.equal(over.status, 429, '3rd within the minute: 429');
  t.equal(body.error.code, 'rate_limited');
  const retryAfter = Number(over.headers.get('retry-after'));
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter} s, within the window`);
  t.equal((await status(rateUrl + '/embed/text', withKey(ALICE, textBody()))).status, 429, 'on every route');
  for (let i = 0; i < 4; i++) t.equal((await status(rateUrl + '/models', withKey(BOB))).status, 200, `bob (no rate) ${i + 1}`);
  for (let i = 0; i < 3; i++) t.equal((await status(rateUrl + '/healthz')).status, 200, 'open routes are not counted');
});

t.test('two Authorization headers: 400 naming the field, whichever of them is valid', async (t) => {
  const authUrl = await serve({ API_KEYS: `alice:${ALICE}` });
  for (const order of [
    [ALICE, 'not-a-key-0123456789abcdef'],
    ['not-a-key-0123456789abcdef', ALICE],
  ]) {
    // Written on a socket: fetch joins repeated headers into one, and Node's client would too.
    const { host, port } = new URL(authUrl);
    const socket = connect(Number(port), host.split(':')[0]);
    await once(socket, 'connect');
    socket.end(
      `GET /models HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${order[0]}\r\nAuthorization: Bearer ${order[1]}\r\nConnection: close\r\n\r\n`,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const [head, text] = Buffer.concat(chunks).toString().split('\r\n\r\n') as [string, string];
    const res = { statusCode: Number(head.split(' ')[1]) };
    const body = JSON.parse(text) as { error: { code: string; field?: string } };
    t.same([res.statusCode, body.error.code, body.error.field], [400, 'bad_request', 'authorization']);
  }
  t.equal((await status(authUrl + '/models', withKey(ALICE))).status, 200, 'one header: served');
});

t.test('a 401 names no model', async (t) => {
  for (const init of [{}, withKey('not-a-key-0123456789abcdef')]) {
    const res = await fetch(url + '/models', init);
    await res.arrayBuffer();
    t.equal(res.status, 401);
    t.equal(res.headers.get('x-model-sha256'), null, 'no X-Model-Sha256');
  }
  const served = await fetch(url + '/models', withKey(ALICE));
  await served.arrayBuffer();
  t.equal(served.headers.get('x-model-sha256'), registry.get().sha256, 'an authenticated answer names it');
});

t.test('a key with models= sees only its models and their prompt sets', async (t) => {
  const scopedUrl = await serve({ API_KEYS: `alice:${ALICE}, carol:${CAROL} models=other-model` });
  const list = async (key: string, path: string) =>
    (await (await fetch(scopedUrl + path, withKey(key))).json()) as Record<string, unknown[]>;
  t.ok((await list(ALICE, '/models')).models!.length > 0, 'alice sees the demo model');
  t.ok((await list(ALICE, '/prompt-sets')).prompt_sets!.length > 0, 'and its prompt sets');
  t.same((await list(CAROL, '/models')).models, [], 'carol sees no model she may not use');
  t.same((await list(CAROL, '/prompt-sets')).prompt_sets, [], 'nor its prompt sets');
  const named = await status(scopedUrl + '/prompt-sets?model=unimed-demo', withKey(CAROL));
  t.same([named.status, named.code], [403, 'forbidden'], 'naming the model: 403');
});

t.test("a key's models= is checked before the PACS is contacted, on every route that retrieves", async (t) => {
  // A loopback PACS that only counts: any request reaching it means the refusal came too late.
  let pacsRequests = 0;
  const pacs = createServer((_req, res) => {
    pacsRequests++;
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
  t.teardown(() => pacs.close());
  const pacsUrl = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}/dicom-web`;
  const scopedUrl = await serve({
    API_KEYS: `carol:${CAROL} models=other-model sources=pacs`,
    DICOMWEB_SOURCES: JSON.stringify({ pacs: { url: pacsUrl } }),
  });
  const study = '1.2.826.0.1.3680043.8.498.77';
  const instance = { dicomweb: { source: 'pacs', study, series: `${study}.1`, instance: `${study}.1.1` } };
  const series = { dicomweb: { source: 'pacs', study, series: `${study}.1` } };
  const calls: [string, unknown][] = [
    ['/classify', { image: instance, labels: ['a', 'b'] }],
    ['/classify', { image: instance, labels: ['a', 'b'], model: 'unimed-demo' }],
    ['/embed/image', { images: [instance] }],
    ['/preview', { image: instance }],
    ['/classify/series', { ...series, labels: ['a', 'b'] }],
    ['/embed/series', series],
  ];
  for (const [path, body] of calls) {
    const init = withKey(CAROL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await status(scopedUrl + path, init);
    t.same(
      [answer.status, answer.code],
      [403, 'forbidden'],
      `${path}${JSON.stringify(body).includes('model') ? ' naming the model' : ''}: 403`,
    );
  }
  t.equal(pacsRequests, 0, 'the PACS was never contacted');
});

t.test('wrong keys from one client address: 429 with Retry-After past AUTH_FAILURE_LIMIT in the window', async (t) => {
  const limits = { API_KEYS: `alice:${ALICE}`, AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_WINDOW_MS: '60000' };
  const wrong = withKey('not-a-key-0123456789abcdef');
  const from = (init: RequestInit, forwardedFor: string): RequestInit => ({
    ...init,
    headers: { ...(init.headers as Record<string, string>), 'x-forwarded-for': forwardedFor },
  });

  // No trusted proxy: X-Forwarded-For is the client's own claim and is ignored, so varying it does not help.
  const direct = await serve(limits);
  for (let i = 1; i <= 3; i++)
    t.equal((await status(direct + '/models', from(wrong, `198.51.100.${i}`))).status, 401, `wrong key ${i}: 401`);
  const over = await fetch(direct + '/models', from(wrong, '198.51.100.9'));
  const body = (await over.json()) as { error: { code: string } };
  t.same([over.status, body.error.code], [429, 'rate_limited'], 'the 4th: 429');
  const retryAfter = Number(over.headers.get('retry-after'));
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter} s, within the window`);
  t.equal((await status(direct + '/models', withKey(ALICE))).status, 429, 'the address waits out the window, whatever key it sends');
  t.equal((await status(direct + '/healthz')).status, 200, 'open routes stay open');

  // Behind a trusted proxy the client is the last untrusted X-Forwarded-For hop, counted on its own.
  const proxied = await serve({ ...limits, TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8' });
  for (let i = 0; i < 3; i++) await status(proxied + '/models', from(wrong, '203.0.113.7, 10.1.2.3'));
  t.equal((await status(proxied + '/models', from(wrong, '203.0.113.7'))).status, 429, 'the guessing client: 429');
  t.equal((await status(proxied + '/models', from(withKey(ALICE), '203.0.113.8'))).status, 200, 'another client behind the proxy: served');
  t.equal(
    (await status(proxied + '/models', from(withKey(ALICE), '203.0.113.7, 203.0.113.8'))).status,
    200,
    'a prepended hop is not believed',
  );
});

t.test('TRUSTED_PROXIES takes addresses and CIDR subnets only', (t) => {
  t.same(loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, ::1, 192.168.1.1' }, ROOT).security.trustedProxies, [
    '10.0.0.0/8',
    '::1',
    '192.168.1.1',
  ]);
  for (const bad of ['proxy.local', '10.0.0.0/33', '10.0.0.0/8/1'])
    t.throws(() => loadConfig({ TRUSTED_PROXIES: bad }, ROOT), /TRUSTED_PROXIES: ".*" is not an IP address or a CIDR subnet/, bad);
  t.end();
});

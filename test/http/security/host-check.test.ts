// The Host check against DNS rebinding (src/http/security/host-check.ts, ALLOWED_HOSTS): a page on a name the
// attacker controls, re-pointed at the service, sends Origin = Host = that name, which the Origin check alone takes
// for the service's own page. Without keys such a name gets 421 misdirected_request on every route, before the
// Origin, the key or the body are looked at; localhost, IP addresses and listed names pass; kubelet probes and
// Prometheus (Host = the pod IP) pass whatever ALLOWED_HOSTS says, on the API port and the metrics listener.
// Real HTTP on 127.0.0.1 with the Host header set by hand (as a browser would send the rebinding name), the demo model.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { buildApp } from '../../../src/app.ts';
import { buildMetricsListener } from '../../../src/http/routes/metrics.ts';
import { Metrics } from '../../../src/metrics.ts';
import { capturedLogger, loadRegistry, ROOT, silentLogger, testConfig } from '../../helpers/common.ts';

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

interface Answer {
  status: number;
  code: string | undefined;
  type: string | undefined;
}

/** One request with the Host (and other headers) exactly as given. */
async function call(
  base: string,
  path: string,
  { host, method = 'GET', headers = {}, body }: { host: string; method?: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  const req = request(base + path, { method, headers: { ...headers, host }, setHost: false });
  req.end(body);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let text = '';
  for await (const chunk of res) text += String(chunk);
  const type = res.headers['content-type'];
  const code = type?.startsWith('application/json') ? (JSON.parse(text) as { error?: { code?: string } }).error?.code : undefined;
  return { status: res.statusCode ?? 0, code, type };
}

const EMBED = { 'content-type': 'application/json' };
const TEXTS = JSON.stringify({ texts: ['chest x-ray'] });
const rebinding = { host: 'evil.example:8080', method: 'POST', headers: { ...EMBED, origin: 'http://evil.example:8080' }, body: TEXTS };

t.test('the rebinding scenario, no keys: Origin = Host = the attacker name gets 421 on every route', async (t) => {
  const open = await serve({});
  const refused = await call(open, '/embed/text', rebinding);
  t.same(
    refused,
    { status: 421, code: 'misdirected_request', type: 'application/json; charset=utf-8' },
    'inference: 421 in the JSON shape',
  );
  for (const path of ['/', '/docs', '/models', '/prompt-sets', '/openapi.json', '/metrics', '/no-such-route'])
    t.equal(
      (await call(open, path, { host: 'evil.example:8080', headers: { origin: 'http://evil.example:8080' } })).code,
      'misdirected_request',
      path,
    );
  for (const path of ['/healthz', '/readyz'])
    t.equal((await call(open, path, { host: 'evil.example:8080' })).status, 421, `${path}: a name is checked on the probe routes too`);

  // What the check stands in front of: with every Host allowed, the same request is taken for the page's own.
  const unchecked = await serve({ ALLOWED_HOSTS: '*' });
  t.equal((await call(unchecked, '/embed/text', rebinding)).status, 200, 'ALLOWED_HOSTS=*: the Origin check alone lets it through');
});

t.test('no keys: localhost and IP addresses pass, as npm start, the README and the image health check call it', async (t) => {
  const open = await serve({});
  const port = new URL(open).port;
  for (const host of [`localhost:${port}`, `LocalHost.:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `192.168.1.20:${port}`]) {
    t.equal((await call(open, '/embed/text', { host, method: 'POST', headers: EMBED, body: TEXTS })).status, 200, `${host}: served`);
    t.equal((await call(open, '/', { host, headers: { origin: `http://${host}` } })).status, 200, `${host}: the page calls itself`);
  }
  t.equal((await fetch(open + '/readyz')).status, 200, 'fetch by 127.0.0.1');
  // HTTP/1.1 without a Host is refused by Node (400); HTTP/1.0 may leave it out.
  const socket = connect({ host: '127.0.0.1', port: Number(port) });
  socket.end('GET /healthz HTTP/1.0\r\n\r\n');
  let raw = '';
  for await (const chunk of socket) raw += String(chunk);
  t.match(raw, /^HTTP\/1\.1 421 [^]*"misdirected_request"/, 'no Host at all (HTTP/1.0): 421');
});

t.test('ALLOWED_HOSTS: listed names pass; others 421 before the key, the Origin or the body; probes by IP pass', async (t) => {
  const KEY = 'ingress-key-0123456789abcdef';
  const url = await serve({ ALLOWED_HOSTS: 'unimed.hospital.example,.svc.cluster.local', API_KEYS: `ingress:${KEY}` });
  const auth = { ...EMBED, authorization: `Bearer ${KEY}` };
  for (const host of ['unimed.hospital.example', 'UNIMED.hospital.example:443', 'unimed-serve.ml.svc.cluster.local:8080'])
    t.equal((await call(url, '/embed/text', { host, method: 'POST', headers: auth, body: TEXTS })).status, 200, `${host}: served`);

  const other = await call(url, '/embed/text', { host: 'evil.example', method: 'POST', headers: EMBED, body: TEXTS });
  t.same([other.status, other.code], [421, 'misdirected_request'], 'no key, another name: 421, not 401');
  const foreign = await call(url, '/embed/text', {
    host: 'evil.example',
    method: 'POST',
    headers: { ...auth, origin: 'https://x.example' },
  });
  t.equal(foreign.code, 'misdirected_request', 'with a foreign Origin: 421 before the Origin check');
  // Headers announce a 1 MB body that is never sent: the answer comes all the same, so nothing waited for it.
  const req = request(url + '/embed/image', {
    method: 'POST',
    setHost: false,
    headers: { host: 'evil.example', 'content-type': 'image/png', 'content-length': String(1 << 20), authorization: `Bearer ${KEY}` },
  });
  req.flushHeaders();
  const [answer] = (await once(req, 'response')) as [IncomingMessage];
  t.equal(answer.statusCode, 421, 'answered without the body');
  answer.resume();
  req.destroy();

  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const probe = await call(url, path, {
      host: '10.244.1.17:8080',
      headers: path === '/metrics' ? { authorization: `Bearer ${KEY}` } : {},
    });
    t.equal(probe.status, 200, `${path} by the pod IP (kubelet, Prometheus): served`);
  }
  for (const path of ['/embed/text', '/', '/docs'])
    t.equal((await call(url, path, { host: '10.244.1.17:8080', headers: auth })).status, 421, `${path} by an IP not listed: 421`);
});

t.test('with API keys and no ALLOWED_HOSTS every Host reaches the key check', async (t) => {
  const url = await serve({ API_KEYS: 'alice:alice-key-0123456789abcdef' });
  t.equal((await call(url, '/embed/text', rebinding)).code, 'unauthorized', 'the key guards it: 401');
  t.equal((await call(url, '/healthz', { host: 'anything.example' })).status, 200);
});

t.test('the metrics listener (METRICS_PORT) checks the Host the same way; a scrape by the pod IP passes', async (t) => {
  const config = testConfig({ METRICS_PORT: '0', ALLOWED_HOSTS: 'unimed.hospital.example' });
  const listener = await buildMetricsListener(new Metrics({ defaultMetrics: false }), silentLogger, config.security.allowedHosts);
  apps.push(listener);
  const side = await listener.listen({ host: '127.0.0.1', port: 0 });
  t.equal((await call(side, '/metrics', { host: '10.244.1.17:9090' })).status, 200, 'Prometheus by the pod IP');
  t.equal((await call(side, '/metrics', { host: 'unimed.hospital.example' })).status, 200, 'a listed name');
  t.same(await call(side, '/metrics', { host: 'evil.example:9090' }), {
    status: 421,
    code: 'misdirected_request',
    type: 'application/json; charset=utf-8',
  });
  const open = testConfig({ METRICS_PORT: '0' });
  const local = await buildMetricsListener(new Metrics({ defaultMetrics: false }), silentLogger, open.security.allowedHosts);
  apps.push(local);
  const localUrl = await local.listen({ host: '127.0.0.1', port: 0 });
  t.equal((await fetch(localUrl + '/metrics')).status, 200, 'no keys: by 127.0.0.1');
  t.equal((await call(localUrl, '/metrics', { host: 'evil.example:9090' })).status, 421, 'no keys: a rebinding name refused');
});

t.test('the start log says which Host names are answered and why', async (t) => {
  for (const [env, expected] of [
    [{}, { allowedHosts: ['localhost'], ipAddresses: 'every-route', source: 'default: no API keys' }],
    [{ API_KEYS: 'alice:alice-key-0123456789abcdef' }, { allowedHosts: '*', source: 'default: API keys' }],
    [
      { ALLOWED_HOSTS: 'a.example:8443,.svc.cluster.local' },
      { allowedHosts: ['a.example:8443', '.svc.cluster.local'], ipAddresses: 'probe-routes', source: 'ALLOWED_HOSTS' },
    ],
  ] as const) {
    const { logger, lines } = capturedLogger('info');
    const app = await buildApp({ config: testConfig(env), metrics, registry, logger });
    await app.ready();
    await app.close();
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'Host names answered (ALLOWED_HOSTS)');
    t.match(line, expected, JSON.stringify(env));
  }
});

t.test('openapi.yaml: every operation documents 421 misdirected_request', (t) => {
  const document = parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8')) as {
    paths: Record<string, Record<string, { responses?: object }>>;
  };
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => [`${method} ${path}`, op] as const),
  );
  t.ok(operations.length >= 10, `${operations.length} operations`);
  // The protocol routes answer in their protocol's error shape (the route's errorRenderer), 421 included.
  const shapeOf = (name: string): string =>
    / \/v2(\/|$)/.test(name) ? 'OpenInferenceError' : / \/v1\//.test(name) ? 'OpenAIMisdirectedRequest' : 'MisdirectedRequest';
  for (const [name, operation] of operations)
    t.match(operation.responses, { '421': { $ref: `#/components/responses/${shapeOf(name)}` } }, `${name}: 421`);
  t.end();
});

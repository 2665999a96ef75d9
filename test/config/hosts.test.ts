// The Host names the service answers for (ALLOWED_HOSTS, src/config/hosts.ts) and the listen address without API
// keys (HOST, ALLOW_UNAUTHENTICATED_NETWORK): how a Host is read, the matching rules (case, trailing dot, port,
// `.domain`, `*`), the defaults decided by the keys at start, the probe exemption for IP addresses, and the refusals
// at start, through loadConfig where the variables meet the rest of the configuration.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import { allowedHosts, hostAllowed, isLoopback, listenHost, parseHost, PROBE_ROUTES } from '../../src/config/hosts.ts';
import { ROOT } from '../helpers/common.ts';

const KEYS = { API_KEYS: 'alice:alice-key-0123456789abcdef' };
const config = (env: Record<string, string>) => loadConfig(env, ROOT);

t.test('parseHost: name or address, optional port; lower-cased, trailing dot dropped; anything else undefined', (t) => {
  t.same(parseHost('Unimed.Example.ORG.'), { name: 'unimed.example.org', port: undefined, ip: false });
  t.same(parseHost('unimed.example.org:8443'), { name: 'unimed.example.org', port: 8443, ip: false });
  t.same(parseHost('10.244.1.17:8080'), { name: '10.244.1.17', port: 8080, ip: true });
  t.same(parseHost('[::1]:8080'), { name: '[::1]', port: 8080, ip: true });
  t.same(parseHost('[FD00::A]'), { name: '[fd00::a]', port: undefined, ip: true });
  t.same(parseHost('localhost'), { name: 'localhost', port: undefined, ip: false });
  t.same(parseHost('2130706433'), { name: '2130706433', port: undefined, ip: false }, 'not a dotted address: a name');
  for (const bad of [
    '',
    ':8080',
    'a b',
    'x:99999',
    'x:80:80',
    '::1',
    '[::1',
    '[evil.example]',
    'user@host',
    'a/b',
    '-x',
    'x..',
    'evil.example:',
  ])
    t.equal(parseHost(bad), undefined, `"${bad}" is no host`);
  t.end();
});

t.test('ALLOWED_HOSTS: case-insensitive, trailing dot ignored, a port in an entry matches that port only, .domain its names', (t) => {
  const policy = allowedHosts({ ALLOWED_HOSTS: 'unimed.example.org, api.example.org:8443, .svc.cluster.local, 10.0.0.5' }, true);
  t.equal(policy.source, 'ALLOWED_HOSTS');
  const allows = (host: string | undefined, route = '/classify') => hostAllowed(policy, host, route);
  for (const ok of ['unimed.example.org', 'UNIMED.example.org.', 'unimed.example.org:8080', 'unimed.example.org:443'])
    t.ok(allows(ok), `${ok}: listed without a port, any port`);
  t.ok(allows('api.example.org:8443'), 'the port listed');
  t.notOk(allows('api.example.org:8080'), 'another port');
  t.notOk(allows('api.example.org'), 'no port is not port 8443');
  t.ok(allows('unimed-serve.ml.svc.cluster.local:8080'), '.domain: a name under it');
  t.ok(allows('svc.cluster.local'), '.domain: the domain itself');
  t.notOk(allows('evilsvc.cluster.local'), '.domain: not a name that merely ends the same');
  t.ok(allows('10.0.0.5:8080'), 'a listed address on every route');
  t.notOk(allows('evil.example:8080'), 'an unlisted name');
  t.notOk(allows('unimed.example.org.evil.example'), 'a listed name as a prefix');
  t.notOk(allows(undefined), 'no Host');
  t.notOk(allows('unimed.example.org@evil'), 'no host at all');
  t.end();
});

t.test('an IP address passes on the probe and metrics routes whatever the list; elsewhere only when listed', (t) => {
  const policy = allowedHosts({ ALLOWED_HOSTS: 'unimed.example.org' }, true);
  t.same([...PROBE_ROUTES].sort(), ['/healthz', '/metrics', '/readyz']);
  for (const route of PROBE_ROUTES) {
    t.ok(hostAllowed(policy, '10.244.1.17:8080', route), `kubelet or Prometheus by the pod IP: ${route}`);
    t.ok(hostAllowed(policy, '[fd00::17]:9090', route), `IPv6 pod IP: ${route}`);
    t.notOk(hostAllowed(policy, 'evil.example:8080', route), `a name not listed: ${route} refused too`);
  }
  for (const route of ['/classify', '/', '/docs', undefined])
    t.notOk(hostAllowed(policy, '10.244.1.17:8080', route), `${route}: by IP, refused`);
  t.end();
});

t.test('unset: with API keys at start every Host; without, localhost and IP addresses only', (t) => {
  const keyed = allowedHosts({}, true);
  t.match(keyed, { names: '*', source: 'default: API keys' });
  t.ok(hostAllowed(keyed, 'evil.example:8080', '/classify'), 'keys: any name (the key guards the route)');
  const open = allowedHosts({}, false);
  t.equal(open.source, 'default: no API keys');
  for (const ok of ['localhost:8080', 'LOCALHOST', 'localhost.:8080', '127.0.0.1:8080', '[::1]:8080', '192.168.1.20:8080'])
    t.ok(hostAllowed(open, ok, '/classify'), `${ok}: allowed`);
  for (const bad of ['evil.example:8080', 'localhost.evil.example', 'my-laptop.lan:8080', undefined])
    t.notOk(hostAllowed(open, bad, '/classify'), `${bad}: refused (a name a rebinding attack could use)`);
  t.end();
});

t.test('ALLOWED_HOSTS=*: every Host, also without keys; * alone; a malformed entry is refused naming it', (t) => {
  t.ok(hostAllowed(allowedHosts({ ALLOWED_HOSTS: '*' }, false), 'anything.example', '/classify'));
  t.throws(() => allowedHosts({ ALLOWED_HOSTS: '*, a.example' }, false), {
    name: 'ConfigError',
    message: /^ALLOWED_HOSTS: \* .*stands alone/,
  });
  for (const bad of ['https://a.example', 'a.example/x', '*.example.org', '.10.0.0.1', 'a.example:0x50', '::1'])
    t.throws(() => allowedHosts({ ALLOWED_HOSTS: `ok.example, ${bad}` }, false), {
      name: 'ConfigError',
      message: new RegExp(`^ALLOWED_HOSTS: "${bad.replace(/[.*/:]/g, '\\$&')}" is not a host name`),
    });
  t.same(config({ ALLOWED_HOSTS: ' A.example , b.example:8443 ' }).security.allowedHosts.names, [
    { name: 'a.example', port: undefined, subdomains: false },
    { name: 'b.example', port: 8443, subdomains: false },
  ]);
  t.end();
});

t.test('isLoopback: 127.0.0.0/8, ::1, the mapped 127 addresses and localhost', (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) t.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'my-host', '128.0.0.1']) t.notOk(isLoopback(host), host);
  t.end();
});

t.test('HOST: 127.0.0.1 by default without keys, 0.0.0.0 with; elsewhere without keys refused unless opted in', (t) => {
  t.equal(config({}).host, '127.0.0.1', 'no keys: loopback (npm start and the README examples call localhost)');
  t.equal(config(KEYS).host, '0.0.0.0', 'keys: every interface');
  t.equal(config({ HOST: '::1' }).host, '::1', 'loopback chosen without keys');
  t.equal(config({ ...KEYS, HOST: '10.0.0.7' }).host, '10.0.0.7', 'anything with keys');
  for (const host of ['0.0.0.0', '::', '10.0.0.7', 'my-host'])
    t.throws(() => config({ HOST: host }), {
      name: 'ConfigError',
      message: new RegExp(
        `^HOST=${host} would let other machines call every route, and no API key is configured: .*ALLOW_UNAUTHENTICATED_NETWORK=true`,
      ),
    });
  t.equal(config({ HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED_NETWORK: 'true' }).host, '0.0.0.0', 'opted in');
  t.equal(config({ ALLOW_UNAUTHENTICATED_NETWORK: 'true' }).host, '127.0.0.1', 'the opt-in permits, HOST chooses');
  t.throws(() => config({ HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED_NETWORK: 'yes' }), {
    name: 'ConfigError',
    message: /^ALLOW_UNAUTHENTICATED_NETWORK /,
  });
  t.equal(listenHost({ HOST: '0.0.0.0' }, true), '0.0.0.0');
  t.end();
});

t.test('decided by the keys at start: an API_KEYS_FILE with no key yet counts as none', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-hosts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'keys');
  writeFileSync(file, '# keys arrive later\n');
  t.equal(config({ API_KEYS_FILE: file }).host, '127.0.0.1', 'an empty file: loopback');
  t.equal(config({ API_KEYS_FILE: file }).security.allowedHosts.source, 'default: no API keys');
  t.throws(() => config({ API_KEYS_FILE: file, HOST: '0.0.0.0' }), /no API key is configured/);
  writeFileSync(file, 'bob:bob-key-0123456789abcdef\n');
  t.equal(config({ API_KEYS_FILE: file, HOST: '0.0.0.0' }).host, '0.0.0.0', 'a key in the file: any address');
  t.equal(config({ API_KEYS_FILE: file }).security.allowedHosts.source, 'default: API keys');
  t.end();
});

// The order of the hooks every request meets is declared (src/http/plugins/names.ts: each plugin names the ones
// that must come before it), so Fastify refuses another order at start; and the app's hooks answer in that order:
// request id and trace first, then the Host (421), CORS (403), the API key (401), body admission (413), the inference routes'
// admission (503), and the key's rate (429) last. Real Fastify instances, app.inject; the demo model where one is served.
import Fastify from 'fastify';
import type { FastifyPluginCallback } from 'fastify';
import t from 'tap';
import { buildApp } from '../../../src/app.ts';
import { admission } from '../../../src/http/plugins/admission.ts';
import { bodyAdmission } from '../../../src/http/plugins/body-admission.ts';
import { lingeringClose } from '../../../src/http/plugins/lingering-close.ts';
import { requestContext } from '../../../src/http/plugins/request-context.ts';
import { accessControl } from '../../../src/http/security/access-control.ts';
import { auditLog } from '../../../src/http/security/audit.ts';
import { corsCheck } from '../../../src/http/security/cors.ts';
import { hostCheck } from '../../../src/http/security/host-check.ts';
import { rateLimits } from '../../../src/http/security/rate-limit.ts';
import { tracing } from '../../../src/http/tracing/install.ts';
import { loadRegistry, silentLogger, testConfig } from '../../helpers/common.ts';

t.test('a plugin registered without the plugins it must follow: Fastify refuses to start', async (t) => {
  // The dependency check runs before a plugin's body, so no options are needed to see it.
  const plugins: [string, unknown, string][] = [
    ['request context', requestContext, 'unimed-service'],
    ['tracing', tracing, 'unimed-request-context'],
    ['audit', auditLog, 'unimed-tracing'],
    ['Host check', hostCheck, 'unimed-audit'],
    ['CORS', corsCheck, 'unimed-host-check'],
    ['access control', accessControl, 'unimed-cors'],
    ['rate limits', rateLimits, 'unimed-access-control'],
    ['body admission', bodyAdmission, 'unimed-access-control'],
    ['lingering close', lingeringClose, 'unimed-body-admission'],
    ['admission', admission, 'unimed-request-context'],
  ];
  for (const [what, plugin, missing] of plugins) {
    const app = Fastify({ logger: false });
    await t.rejects(
      async () => {
        await app.register(plugin as FastifyPluginCallback);
      },
      { code: 'FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED', message: new RegExp(`'${missing}'`) },
      `${what} alone`,
    );
    await app.close().catch(() => undefined);
  }
});

const KEY = 'alice-key-0123456789abcdef';
const BODY_LIMIT = 1024;
const oversize = JSON.stringify({ texts: ['x'.repeat(2 * BODY_LIMIT)] });
const env = { API_KEYS: `alice:${KEY} rate=3/minute`, MAX_BODY_BYTES: String(BODY_LIMIT), ALLOWED_HOSTS: 'localhost' };
const post = (headers: Record<string, string>, payload = oversize) =>
  ({ method: 'POST', url: '/embed/text', headers: { 'content-type': 'application/json', ...headers }, payload }) as const;
const code = (res: { json<T>(): T }) => res.json<{ error: { code: string } }>().error.code;

t.test('the app answers in the declared order', async (t) => {
  const { registry, metrics } = await loadRegistry();
  const app = await buildApp({ config: testConfig(env), metrics, registry, logger: silentLogger });
  t.teardown(async () => {
    await app.close();
    await registry.close();
  });

  const misdirected = await app.inject(post({ host: 'evil.example', origin: 'https://evil.example' }));
  t.equal(misdirected.statusCode, 421, 'a Host not allowed, with a foreign Origin: the Host check before CORS');
  t.equal(code(misdirected), 'misdirected_request');

  const foreign = await app.inject(post({ origin: 'https://evil.example' }));
  t.equal(foreign.statusCode, 403, 'a foreign Origin without a key: CORS before the key check');
  t.equal(code(foreign), 'origin_not_allowed');
  t.match(foreign.headers['x-request-id'], /./, 'the request context ran before the refusal');
  t.match(foreign.headers.traceparent, /^00-/, 'so did tracing');

  const keyless = await app.inject(post({}));
  t.equal(keyless.statusCode, 401, 'an oversize body without a key: the key check before body admission');
  t.equal(code(keyless), 'unauthorized');

  const withKey = await app.inject(post({ authorization: `Bearer ${KEY}` }));
  t.equal(withKey.statusCode, 413, 'with the key, the same body is too large');
  t.equal(code(withKey), 'too_large');

  // The key's rate is 3 a minute, counted only by requests that pass body admission: the 413 was not counted.
  const small = JSON.stringify({ texts: ['chest x-ray'] });
  for (let i = 0; i < 3; i++) t.equal((await app.inject(post({ authorization: `Bearer ${KEY}` }, small))).statusCode, 200);
  const overRateLarge = await app.inject(post({ authorization: `Bearer ${KEY}` }));
  t.equal(overRateLarge.statusCode, 413, 'over its rate with an oversize body: body admission before the rate limit');
  const overRate = await app.inject(post({ authorization: `Bearer ${KEY}` }, small));
  t.equal(overRate.statusCode, 429, 'over its rate: 429');
  t.equal(code(overRate), 'rate_limited');
});

t.test("body admission comes before the inference routes' admission", async (t) => {
  // No models yet: admission answers 503 to every inference request it sees.
  const app = await buildApp({ config: testConfig(env), logger: silentLogger });
  t.teardown(() => app.close());
  const large = await app.inject(post({ authorization: `Bearer ${KEY}` }));
  t.equal(large.statusCode, 413, 'an oversize body is refused before admission is asked');
  const small = await app.inject(post({ authorization: `Bearer ${KEY}` }, JSON.stringify({ texts: ['x'] })));
  t.equal(small.statusCode, 503, 'a body within the limit reaches admission, which refuses while loading');
  t.equal(code(small), 'not_ready');
});

import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';

t.test('HTTP_* connection limits: defaults', (t) => {
  const { http, limits } = loadConfig({});
  t.same(http, {
    requestTimeoutMs: 60_000,
    headersTimeoutMs: 60_000,
    keepAliveTimeoutMs: 650_000,
    connectionTimeoutMs: 120_000,
    lingerMs: 30_000,
    lingerBytes: 8 * limits.bodyBytes,
  });
  t.equal(loadConfig({ MAX_BODY_BYTES: '1048576' }).http.lingerBytes, 8 * 1048576, 'linger bytes follow MAX_BODY_BYTES');
  t.equal(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '20000' }).http.headersTimeoutMs, 20_000, 'headers default to at most the request timeout');
  t.equal(
    loadConfig({ REQUEST_TIMEOUT_MS: '90000' }).http.connectionTimeoutMs,
    180_000,
    'the idle limit defaults above the inference deadline',
  );
  t.end();
});

t.test('HTTP_* connection limits: values parse', (t) => {
  const { http } = loadConfig({
    HTTP_REQUEST_TIMEOUT_MS: '5000',
    HTTP_HEADERS_TIMEOUT_MS: '2000',
    HTTP_KEEP_ALIVE_TIMEOUT_MS: '75000',
    HTTP_CONNECTION_TIMEOUT_MS: '0',
    HTTP_LINGER_MS: '0',
    HTTP_LINGER_BYTES: '1024',
  });
  t.same(http, {
    requestTimeoutMs: 5000,
    headersTimeoutMs: 2000,
    keepAliveTimeoutMs: 75_000,
    connectionTimeoutMs: 0,
    lingerMs: 0,
    lingerBytes: 1024,
  });
  t.end();
});

t.test('HTTP_* connection limits: bad values stop the start with a message naming the variable', (t) => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ HTTP_REQUEST_TIMEOUT_MS: 'soon' }, /^HTTP_REQUEST_TIMEOUT_MS /],
    [{ HTTP_REQUEST_TIMEOUT_MS: '0' }, /^HTTP_REQUEST_TIMEOUT_MS /],
    [{ HTTP_HEADERS_TIMEOUT_MS: '1.5' }, /^HTTP_HEADERS_TIMEOUT_MS /],
    [
      { HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '2000' },
      /^HTTP_HEADERS_TIMEOUT_MS \(2000\) must not exceed HTTP_REQUEST_TIMEOUT_MS/,
    ],
    [{ HTTP_KEEP_ALIVE_TIMEOUT_MS: '0' }, /^HTTP_KEEP_ALIVE_TIMEOUT_MS /],
    [{ HTTP_KEEP_ALIVE_TIMEOUT_MS: '-1' }, /^HTTP_KEEP_ALIVE_TIMEOUT_MS /],
    [{ HTTP_CONNECTION_TIMEOUT_MS: '30000' }, /^HTTP_CONNECTION_TIMEOUT_MS \(30000\) must be 0 or more than REQUEST_TIMEOUT_MS/],
    [{ HTTP_CONNECTION_TIMEOUT_MS: 'x' }, /^HTTP_CONNECTION_TIMEOUT_MS /],
    [{ HTTP_LINGER_MS: '-5' }, /^HTTP_LINGER_MS /],
    [{ HTTP_LINGER_BYTES: '10kb' }, /^HTTP_LINGER_BYTES /],
  ];
  for (const [env, message] of bad) {
    t.throws(() => loadConfig(env), ConfigError, JSON.stringify(env));
    t.throws(() => loadConfig(env), message, JSON.stringify(env));
  }
  t.end();
});

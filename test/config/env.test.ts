// The configuration's parsers (src/config/env.ts), one per kind of value: what each accepts, that a blank value
// is the default everywhere, and that each refusal is a ConfigError naming the variable; through loadConfig, the
// variables that use them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import {
  boolean,
  ConfigError,
  duration,
  fileText,
  integer,
  list,
  MAX_TIMEOUT_MS,
  optionalInteger,
  path,
  systemFileText,
  text,
} from '../../src/config/env.ts';

const refused = (name: string) => ({ name: 'ConfigError', message: new RegExp(`^${name} `) });

t.test('text: trimmed; unset or blank is undefined', (t) => {
  t.equal(text({ A: '  x y  ' }, 'A'), 'x y');
  t.equal(text({ A: ' \t ' }, 'A'), undefined);
  t.equal(text({}, 'A'), undefined);
  t.equal(loadConfig({ HOST: ' 127.0.0.1 ' }).host, '127.0.0.1');
  t.equal(loadConfig({ LOG_LEVEL: '' }).logLevel, 'info', 'blank: the default, as for every variable');
  t.end();
});

t.test('integer: within its bounds, else refused naming the variable and the value', (t) => {
  t.equal(integer({ N: ' 42 ' }, 'N', 7, 0, 100), 42);
  t.equal(integer({ N: '' }, 'N', 7, 0, 100), 7, 'blank: the default');
  t.equal(integer({}, 'N', 7, 0, 100), 7);
  for (const bad of ['1.5', 'ten', '-1', '101', 'NaN', 'Infinity']) {
    t.throws(() => integer({ N: bad }, 'N', 7, 0, 100), {
      name: 'ConfigError',
      message: `N must be an integer between 0 and 100, got "${bad}"`,
    });
  }
  t.equal(optionalInteger({}, 'N', 1), undefined, 'an optional integer left unset is undefined, not a default');
  t.equal(optionalInteger({ N: '5' }, 'N', 1), 5);
  t.throws(() => optionalInteger({ N: '0' }, 'N', 1), ConfigError);
  t.throws(() => loadConfig({ PORT: '65536' }), refused('PORT'));
  t.throws(() => loadConfig({ METRICS_PORT: 'x' }), refused('METRICS_PORT'));
  t.throws(() => loadConfig({ PORT: '9000', METRICS_PORT: '9000' }), /METRICS_PORT \(9000\) must differ from PORT/);
  t.equal(loadConfig({ PORT: '9000', METRICS_PORT: '9001' }).security.metricsPort, 9001);
  t.end();
});

t.test('duration: milliseconds, at most a day whatever the bounds given', (t) => {
  t.equal(duration({ D: '250' }, 'D', 1, 0), 250);
  t.equal(duration({ D: String(MAX_TIMEOUT_MS) }, 'D', 1, 0), MAX_TIMEOUT_MS);
  t.throws(() => duration({ D: String(MAX_TIMEOUT_MS + 1) }, 'D', 1, 0), refused('D'));
  t.throws(() => duration({ D: '20000' }, 'D', 1, 0, 10_000), { message: 'D must be an integer between 0 and 10000, got "20000"' });
  t.throws(() => duration({ D: '5s' }, 'D', 1, 0), refused('D'));
  for (const name of [
    'REQUEST_TIMEOUT_MS',
    'WORKER_TIMEOUT_MS',
    'SHUTDOWN_GRACE_MS',
    'DECODER_TIMEOUT_MS',
    'HTTP_LINGER_MS',
    'MEMORY_WAIT_MS',
  ]) {
    t.throws(() => loadConfig({ [name]: String(MAX_TIMEOUT_MS + 1) }), refused(name), `${name}: over a day`);
  }
  t.equal(loadConfig({ SHUTDOWN_GRACE_MS: '0' }).shutdownGraceMs, 0);
  t.throws(() => loadConfig({ IMAGE_MAX_DELAY_MS: '10001' }), refused('IMAGE_MAX_DELAY_MS'));
  t.end();
});

t.test('boolean: 1, 0, true, false in any case; anything else refused naming the variable', (t) => {
  for (const yes of ['1', 'true', 'TRUE', 'True', ' true ']) t.equal(boolean({ B: yes }, 'B', false), true, `"${yes}"`);
  for (const no of ['0', 'false', 'FALSE', 'False']) t.equal(boolean({ B: no }, 'B', true), false, `"${no}"`);
  t.equal(boolean({ B: '' }, 'B', true), true, 'blank: the default');
  t.equal(boolean({}, 'B', false), false);
  for (const bad of ['yes', 'no', 'on', '2', '-1', 't', '1.0']) {
    t.throws(() => boolean({ B: bad }, 'B', false), {
      name: 'ConfigError',
      message: `B must be true or false (or 1 or 0, in any case), got "${bad}"`,
    });
  }
  // Both switches take the same forms.
  t.equal(loadConfig({ ORT_SPINNING: 'true' }).ortSpinning, true);
  t.equal(loadConfig({ ORT_SPINNING: 'FALSE' }).ortSpinning, false);
  t.equal(loadConfig({ REQUIRE_AUTH: '0' }).security.requireAuth, false);
  t.equal(loadConfig({ REQUIRE_AUTH: '1', API_KEYS: 'a:0123456789abcdef' }).security.requireAuth, true);
  t.throws(() => loadConfig({ ORT_SPINNING: 'on' }), refused('ORT_SPINNING'));
  t.throws(() => loadConfig({ REQUIRE_AUTH: 'on' }), refused('REQUIRE_AUTH'));
  t.end();
});

t.test('list: comma-separated, items trimmed, empty items dropped', (t) => {
  t.same(list({ L: ' a, b ,,c ' }, 'L', ['x']), ['a', 'b', 'c']);
  t.same(list({ L: ' ' }, 'L', ['x']), ['x'], 'blank: the default');
  t.same(list({}, 'L', ['x']), ['x']);
  t.throws(() => loadConfig({ MODEL_DIRS: ',' }), /MODEL_DIRS names no directory/);
  t.throws(() => loadConfig({ EXECUTION_PROVIDERS: 'cpu,tpu' }), /EXECUTION_PROVIDERS: unknown provider "tpu"/);
  t.end();
});

t.test('path: resolved against the working directory; unset is undefined', (t) => {
  t.equal(path({ P: ' keys/file ' }, 'P', '/srv'), '/srv/keys/file');
  t.equal(path({ P: '/etc/x' }, 'P', '/srv'), '/etc/x');
  t.equal(path({ P: '' }, 'P', '/srv'), undefined);
  t.equal(loadConfig({ PROMPT_SETS: 'sets.yaml' }, '/srv').promptSetsFile, '/srv/sets.yaml');
  // The paths resolved (the TLS settings' cipher list and HSTS are test/integration/tls.test.ts's).
  t.match(loadConfig({ TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem' }, '/srv').security.tls, {
    certFile: '/srv/c.pem',
    keyFile: '/srv/k.pem',
  });
  t.throws(() => loadConfig({ TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: ' ' }, '/srv'), /TLS_CERT_FILE and TLS_KEY_FILE go together/);
  t.end();
});

t.test('file text: read relative to a directory; unreadable or too large is refused naming the file, never quoting it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-config-env-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'secret'), 'hunter2-hunter2\n');
  t.equal(fileText('secret', 'SOME_FILE', { cwd: dir }), 'hunter2-hunter2\n');
  t.throws(() => fileText('absent', 'SOME_FILE', { cwd: dir }), {
    name: 'ConfigError',
    message: 'SOME_FILE absent cannot be read (ENOENT)',
  });
  t.throws(() => fileText(dir, 'SOME_FILE'), { name: 'ConfigError', message: `SOME_FILE ${dir} cannot be read (EISDIR)` });
  let error: unknown;
  try {
    fileText('secret', 'SOME_FILE', { cwd: dir, maxChars: 4 });
  } catch (e) {
    error = e;
  }
  t.ok(error instanceof ConfigError);
  t.equal((error as Error).message, 'SOME_FILE secret is larger than 4 bytes', 'the message names the file, not what it holds');
  t.equal(systemFileText(join(dir, 'secret')), 'hunter2-hunter2', 'a system file: trimmed');
  t.equal(systemFileText(join(dir, 'absent')), undefined, 'a system file that is not there: undefined, not an error');
  t.end();
});

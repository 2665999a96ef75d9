// DICOMWEB_SOURCES: parsed and checked at start; secrets read from files and never quoted.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../src/config.ts';
import { dicomwebConfig } from '../../src/config/dicomweb.ts';

const dir = mkdtempSync(join(tmpdir(), 'unimed-config-dicomweb-'));
const SECRET = 's3cret-Value-77';
writeFileSync(join(dir, 'password'), `${SECRET}\n`);
writeFileSync(join(dir, 'token'), 'tok-abc');
writeFileSync(join(dir, 'empty'), '\n');
writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const parse = (value: unknown, extra: Record<string, string> = {}) =>
  dicomwebConfig({ DICOMWEB_SOURCES: typeof value === 'string' ? value : JSON.stringify(value), ...extra }, dir);

t.test('sources from JSON: url normalised, basic and bearer auth from files, defaults', (t) => {
  const config = parse({
    pacs: {
      url: 'http://pacs:8042/dicom-web/',
      auth: { type: 'basic', username: 'svc', password_file: 'password' },
      timeout_ms: 5000,
      concurrency: 2,
      ca_file: 'ca.pem',
    },
    cloud: { url: 'https://dicom.example/v1', auth: { type: 'bearer', token_file: join(dir, 'token') } },
  });
  const pacs = config.sources.get('pacs')!;
  t.equal(pacs.url.href, 'http://pacs:8042/dicom-web', 'no trailing slash');
  t.equal(pacs.authorization, `Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}`, 'password without its line break');
  t.same([pacs.timeoutMs, pacs.concurrency], [5000, 2]);
  t.match(pacs.ca, /BEGIN CERTIFICATE/);
  const cloud = config.sources.get('cloud')!;
  t.equal(cloud.authorization, 'Bearer tok-abc');
  t.same([cloud.timeoutMs, cloud.concurrency, cloud.ca], [10_000, 4, undefined], 'defaults');
  t.equal(dicomwebConfig({}, dir).sources.size, 0, 'none configured: no source can be named');
  t.end();
});

t.test('sources from a YAML (or JSON) file', (t) => {
  writeFileSync(join(dir, 'sources.yaml'), 'pacs:\n  url: http://127.0.0.1:8042/dicom-web\n  concurrency: 8\n');
  t.equal(parse('sources.yaml').sources.get('pacs')?.concurrency, 8);
  t.end();
});

t.test('bad values stop the start, naming the variable and never a secret', (t) => {
  const cases: [unknown, RegExp][] = [
    ['{not json', /DICOMWEB_SOURCES is not valid JSON/],
    ['missing.yaml', /DICOMWEB_SOURCES file missing.yaml cannot be read/],
    [[1, 2], /must be an object of named sources/],
    [{ 'a b': { url: 'http://x' } }, /source name "a b"/],
    [{ p: { url: 'ftp://x' } }, /p\.url must be an http or https URL/],
    [{ p: { url: `http://svc:${SECRET}@pacs/dicom-web` } }, /must not hold credentials/],
    [{ p: { url: 'http://pacs/dicom-web?x=1' } }, /no query or fragment/],
    [{ p: { url: 'http://pacs', redirects: true } }, /unknown key "redirects"/],
    [{ p: { url: 'http://pacs', timeout_ms: 0 } }, /timeout_ms must be an integer between 1 and/],
    [{ p: { url: 'http://pacs', concurrency: 1000 } }, /concurrency must be an integer between 1 and 256/],
    [{ p: { url: 'http://pacs', auth: { type: 'digest' } } }, /auth\.type must be "basic" or "bearer"/],
    [{ p: { url: 'http://pacs', auth: { type: 'basic', username: 'svc', password: SECRET } } }, /unknown key "password"/],
    [
      { p: { url: 'http://pacs', auth: { type: 'basic', username: 'svc', password_file: 'nope' } } },
      /password_file nope cannot be read \(ENOENT\)/,
    ],
    [{ p: { url: 'http://pacs', auth: { type: 'bearer', token_file: 'empty' } } }, /token_file empty must hold one non-empty line/],
  ];
  for (const [value, message] of cases) {
    let error: unknown;
    try {
      parse(value);
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof ConfigError, `${JSON.stringify(value).slice(0, 60)}: refused`);
    t.match((error as Error).message, message);
    t.notOk((error as Error).message.includes(SECRET), 'the message quotes no secret');
  }
  t.end();
});

t.test('a secret file is at most 64 KiB; a CA bundle may be larger (a system bundle is some 200 KiB)', (t) => {
  const big = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n-----END CERTIFICATE-----\n`.repeat(3000);
  writeFileSync(join(dir, 'bundle.pem'), big);
  writeFileSync(join(dir, 'big-token'), 'x'.repeat(64 * 1024 + 1));
  t.equal(parse({ p: { url: 'https://pacs', ca_file: 'bundle.pem' } }).sources.get('p')?.ca, big);
  t.throws(() => parse({ p: { url: 'http://pacs', auth: { type: 'bearer', token_file: 'big-token' } } }), {
    name: 'ConfigError',
    message: /token_file big-token is larger than 65536 bytes/,
  });
  t.end();
});

// WATCHES: parsed and checked at start against the sources, the API keys and the jobs; every mistake stops the start.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { parseApiKeysVariable } from '../../src/config/api-keys.ts';
import { watchesConfig, type WatchContext } from '../../src/config/watches.ts';

const KEY = 'k-0123456789abcdef';
const keys = parseApiKeysVariable(`watcher:${KEY}1 sources=pacs models=unimed-demo, all:${KEY}2 sources=*, other:${KEY}3 sources=archive`);
const context: WatchContext = { sources: new Set(['pacs', 'archive']), keys, jobsEnabled: true };
const dir = mkdtempSync(join(tmpdir(), 'unimed-config-watches-'));
const parse = (value: unknown, over: Partial<WatchContext> = {}) =>
  watchesConfig({ WATCHES: typeof value === 'string' ? value : JSON.stringify(value) }, dir, { ...context, ...over });
const ct = { source: 'pacs', key: 'watcher', filters: { ModalitiesInStudy: 'CT' }, job: { prompt_set: 'modality' } };

t.test('a watch with defaults, and one with every field', (t) => {
  const [a, b] = parse({
    ct,
    mr: {
      source: 'archive',
      key: 'all',
      filters: { ModalitiesInStudy: 'MR,CT', StudyDescription: 'HEAD*', StudyDate: '20240101-' },
      interval_seconds: 5,
      page_size: 2,
      max_pages: 3,
      job: { labels: ['a CT scan', { name: 'mr', text: 'an MRI scan' }], templates: ['a photo of {}'], coverage: 0.9, model: 'm' },
    },
  });
  t.match(a, {
    name: 'ct',
    source: 'pacs',
    filters: { ModalitiesInStudy: 'CT' },
    intervalMs: 60_000,
    pageSize: 100,
    maxPages: 50,
    keyId: 'watcher',
    sources: ['pacs'],
    models: ['unimed-demo'],
    job: { prompt_set: 'modality' },
  });
  t.match(b, { intervalMs: 5000, pageSize: 2, maxPages: 3, keyId: 'all', sources: ['*'], models: undefined });
  t.same(b?.filters, { ModalitiesInStudy: 'MR,CT', StudyDescription: 'HEAD*', StudyDate: '20240101-' });
  t.same(watchesConfig({}, dir, context), [], 'unset: no watch');
  t.end();
});

t.test('a service without keys: the jobs belong to no key, with every source', (t) => {
  const [watch] = parse({ ct: { ...ct, key: undefined } }, { keys: [] });
  t.match(watch, { keyId: '', sources: ['*'], models: undefined });
  t.throws(() => parse({ ct }, { keys: [] }), /WATCHES.ct.key names an API key, but no API key is configured/);
  t.end();
});

t.test('from a YAML file', (t) => {
  writeFileSync(join(dir, 'watches.yaml'), 'ct:\n  source: pacs\n  key: watcher\n  job:\n    prompt_set: modality\n');
  t.equal(parse('watches.yaml')[0]?.source, 'pacs');
  t.end();
});

t.test('every mistake is refused at start, naming the watch and the field', (t) => {
  const cases: [unknown, RegExp][] = [
    ['{nope', /WATCHES is not valid JSON/],
    ['missing.yaml', /WATCHES file missing.yaml cannot be read/],
    [[], /WATCHES must be an object of named watches/],
    [{ 'a b': ct }, /watch name "a b" must be 1-64 characters/],
    [{ ct: 1 }, /WATCHES.ct must be an object/],
    [{ ct: { ...ct, extra: 1 } }, /WATCHES.ct: unknown key "extra"/],
    [{ ct: { ...ct, source: 'elsewhere' } }, /WATCHES.ct.source must name a source of DICOMWEB_SOURCES/],
    [
      { ct: { ...ct, filters: { PatientName: 'DOE*' } } },
      /WATCHES.ct.filters: unknown key "PatientName" \(accepted: ModalitiesInStudy, StudyDescription, StudyDate\)/,
    ],
    [
      { ct: { ...ct, filters: { ModalitiesInStudy: 'ct&x=1' } } },
      /WATCHES.ct.filters.ModalitiesInStudy is not a valid ModalitiesInStudy value/,
    ],
    [{ ct: { ...ct, filters: { StudyDate: '2024' } } }, /filters.StudyDate is not a valid StudyDate value/],
    [{ ct: { ...ct, filters: { StudyDescription: 'a\nb' } } }, /filters.StudyDescription is not a valid/],
    [{ ct: { ...ct, interval_seconds: 0 } }, /WATCHES.ct.interval_seconds must be an integer between 1 and 86400/],
    [{ ct: { ...ct, page_size: 1001 } }, /WATCHES.ct.page_size must be an integer between 1 and 1000/],
    [{ ct: { ...ct, max_pages: 1.5 } }, /WATCHES.ct.max_pages must be an integer between 1 and 10000/],
    [{ ct: { ...ct, key: undefined } }, /WATCHES.ct.key must be the id of an API key/],
    [{ ct: { ...ct, key: 'nobody' } }, /WATCHES.ct.key "nobody" is not the id of a configured API key/],
    [{ ct: { ...ct, key: 'other' } }, /WATCHES.ct.key "other" may not reach source "pacs" \(its sources= does not name it\)/],
    [{ ct: { ...ct, job: undefined } }, /WATCHES.ct.job must be an object/],
    [{ ct: { ...ct, job: { prompt_set: 'modality', study: '1.2.3' } } }, /WATCHES.ct.job: unknown key "study"/],
    [{ ct: { ...ct, job: {} } }, /WATCHES.ct.job: give labels or prompt_set/],
    [{ ct: { ...ct, job: { prompt_set: 'modality', labels: ['a', 'b'] } } }, /give labels or prompt_set \(one of them\)/],
    [{ ct: { ...ct, job: { labels: ['a'] } } }, /WATCHES.ct.job.labels must be an array of two labels or more/],
    [
      { ct: { ...ct, job: { labels: ['a', 'b'], templates: ['no placeholder'] } } },
      /job.templates must be an array of strings, each with \{\}/,
    ],
    [{ ct: { ...ct, job: { prompt_set: 'modality', templates: ['{}'] } } }, /templates cannot be combined with prompt_set/],
    [{ ct: { ...ct, job: { prompt_set: 'modality', coverage: 1 } } }, /job.coverage must be a number between 0 and 1/],
    [{ ct: { ...ct, job: { prompt_set: 'modality', top_k: 0 } } }, /job.top_k must be an integer >= 1/],
    [{ ct: { ...ct, job: { prompt_set: 'modality', model: 'other' } } }, /WATCHES.ct.job.model is not one of the models= of key "watcher"/],
  ];
  for (const [value, message] of cases) t.throws(() => parse(value), { name: 'ConfigError', message }, String(message));
  t.throws(() => parse({ ct }, { jobsEnabled: false }), /WATCHES needs the jobs enabled \(JOBS_DB or JOBS_DATABASE_URL\)/);
  t.end();
});

t.test('loadConfig checks WATCHES against DICOMWEB_SOURCES, the API keys and JOBS_DB', (t) => {
  writeFileSync(join(dir, 'jobs-key'), 'watch-config-key-0123456789abcdef0123\n');
  const env = {
    DICOMWEB_SOURCES: JSON.stringify({ pacs: { url: 'http://127.0.0.1:1/dicom-web' } }),
    API_KEYS: `watcher:${KEY}1 sources=pacs`,
    JOBS_DB: join(dir, 'jobs.sqlite'),
    JOBS_KEY_FILE: join(dir, 'jobs-key'),
    WATCHES: JSON.stringify({ ct }),
  };
  t.equal(loadConfig(env, dir).watches[0]?.keyId, 'watcher');
  t.throws(
    () => loadConfig({ ...env, JOBS_DB: '' }, dir),
    new ConfigError('WATCHES needs the jobs enabled (JOBS_DB or JOBS_DATABASE_URL): a watch creates jobs'),
  );
  t.throws(() => loadConfig({ ...env, API_KEYS: `watcher:${KEY}1` }, dir), /may not reach source "pacs"/);
  t.same(loadConfig({ ...env, WATCHES: '' }, dir).watches, []);
  t.end();
});

t.test('a destination: a configured source the key reaches', (t) => {
  t.match(parse({ ct: { ...ct, job: { prompt_set: 'modality', destination: 'pacs' } } })[0], { job: { destination: 'pacs' } });
  t.throws(
    () => parse({ ct: { ...ct, job: { prompt_set: 'modality', destination: 'nowhere' } } }),
    /WATCHES.ct.job.destination must name a source/,
  );
  t.throws(
    () => parse({ ct: { ...ct, job: { prompt_set: 'modality', destination: 'archive' } } }),
    /key "watcher" may not reach destination "archive"/,
  );
  t.throws(() => parse({ ct: { ...ct, job: { prompt_set: 'modality', destination: '' } } }), /destination must be/);
  t.end();
});

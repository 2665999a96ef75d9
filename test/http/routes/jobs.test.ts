// Durable jobs (POST /jobs, GET /jobs/{id}, GET /jobs): kept in a SQLite file, run in the background against a
// loopback PACS with the demo model over real HTTP; scoped by API key; idempotent; retried then failed when the
// PACS is down; picked up again by a new app on the same file when left running.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../../src/app.ts';
import { loadConfig } from '../../../src/config.ts';
import { JobCipher } from '../../../src/service/jobs/cipher.ts';
import { capturedLogger, loadRegistry, testConfig } from '../../helpers/common.ts';
import { ct } from '../../fixtures/dicom/images.ts';
import { imageDicom } from '../../fixtures/dicom/writer.ts';

const STUDY = '1.2.826.0.1.3680043.8.498.4343';
const SERIES = `${STUDY}.1`;
const INSTANCES = [`${SERIES}.1`, `${SERIES}.2`];
const single = imageDicom(ct());

const pacs = createServer((req: IncomingMessage, res: ServerResponse) => {
  const path = req.url ?? '';
  if (path.includes(`/studies/${STUDY}/series?`))
    return res
      .writeHead(200, { 'content-type': 'application/dicom+json' })
      .end(JSON.stringify([{ '0020000E': { vr: 'UI', Value: [SERIES] } }]));
  if (path.includes('/instances?')) {
    const listing = INSTANCES.map((uid, i) => ({ '00080018': { vr: 'UI', Value: [uid] }, '00200013': { vr: 'IS', Value: [i + 1] } }));
    return res.writeHead(200, { 'content-type': 'application/dicom+json' }).end(JSON.stringify(listing));
  }
  const instance = path.split('/instances/')[1] ?? '';
  if (INSTANCES.includes(instance)) return res.writeHead(200, { 'content-type': 'application/dicom' }).end(single);
  return res.writeHead(404).end();
});
await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;
// A port nothing listens on: the "down" source is unreachable.
const closed = createServer();
await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
const downPort = (closed.address() as AddressInfo).port;
await new Promise((resolve) => closed.close(resolve));

const dir = mkdtempSync(join(tmpdir(), 'unimed-jobs-'));
const dbFile = join(dir, 'jobs.sqlite');
const keyFile = join(dir, 'jobs-key');
writeFileSync(keyFile, 'jobs-test-key-0123456789abcdef0123\n');
const KEYS = { a: 'jobs-key-a-0123456789abcdef', b: 'jobs-key-b-0123456789abcdef' };
const env = {
  API_KEYS: `a:${KEYS.a} sources=*,b:${KEYS.b} sources=*`,
  DICOMWEB_SOURCES: JSON.stringify({ pacs: { url: `${base}/pacs` }, down: { url: `http://127.0.0.1:${downPort}/pacs` } }),
  JOBS_DB: dbFile,
  JOBS_KEY_FILE: keyFile,
  JOBS_BACKOFF_MS: '5',
  JOBS_MAX_ATTEMPTS: '3',
};
const { logger } = capturedLogger('info');
const { registry, metrics, config } = await loadRegistry(env, { logger });
t.teardown(async () => {
  await registry.close();
  await new Promise((resolve) => pacs.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function start() {
  const app = await buildApp({ config, metrics, registry, logger });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}
let { app, url } = await start();

const call = (key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
interface JobView {
  status: string;
  attempts: number;
  error?: { code: string };
  result?: { series: { series: string; classification: unknown }[] };
}
/** Resolves when the job settles (the runner's event), or at once if it already has. */
async function settled(id: string, key = KEYS.a): Promise<JobView> {
  const waiting = new Promise<void>((resolve) => {
    const listener = (settledId: string) => {
      if (settledId !== id) return;
      app.jobs.runner.events.off('settled', listener);
      resolve();
    };
    app.jobs.runner.events.on('settled', listener);
  });
  const now = (await (await call(key, 'GET', `/jobs/${id}`)).json()) as JobView;
  if (now.status !== 'done' && now.status !== 'failed') await waiting;
  return (await (await call(key, 'GET', `/jobs/${id}`)).json()) as JobView;
}

const LABELS = ['a CT scan', 'an MRI scan'];
const body = { source: 'pacs', study: STUDY, labels: LABELS };

t.test('a job of a study runs to done, each series classified as /classify/series answers it', async (t) => {
  const created = await call(KEYS.a, 'POST', '/jobs', body);
  t.equal(created.status, 202);
  const { id, status } = (await created.json()) as { id: string; status: string };
  t.equal(status, 'queued');
  const job = await settled(id);
  t.equal(job.status, 'done');
  t.equal(job.attempts, 1);
  const direct = await call(KEYS.a, 'POST', '/classify/series', {
    dicomweb: { source: 'pacs', study: STUDY, series: SERIES },
    labels: LABELS,
  });
  t.equal(direct.status, 200);
  t.same(job.result, { series: [{ series: SERIES, classification: await direct.json() }] });
  const list = (await (await call(KEYS.a, 'GET', '/jobs?status=done&limit=1')).json()) as { jobs: { id: string }[] };
  t.same(
    list.jobs.map((j) => j.id),
    [id],
  );
});

t.test('Idempotency-Key: same body, same job; another body, 409; another key sees nothing', async (t) => {
  const first = await call(KEYS.a, 'POST', '/jobs', body, { 'idempotency-key': 'k1' });
  t.equal(first.status, 202);
  const { id } = (await first.json()) as { id: string };
  const again = await call(KEYS.a, 'POST', '/jobs', body, { 'idempotency-key': 'k1' });
  t.equal(again.status, 200);
  t.equal(((await again.json()) as { id: string }).id, id);
  const other = await call(KEYS.a, 'POST', '/jobs', { ...body, labels: ['x', 'y'] }, { 'idempotency-key': 'k1' });
  t.equal(other.status, 409);
  t.equal(((await other.json()) as { error: { code: string } }).error.code, 'conflict');
  const foreign = await call(KEYS.b, 'GET', `/jobs/${id}`);
  t.equal(foreign.status, 404);
  t.equal(((await foreign.json()) as { error: { code: string } }).error.code, 'job_not_found');
  t.same(((await (await call(KEYS.b, 'GET', '/jobs')).json()) as { jobs: unknown[] }).jobs, []);
  await settled(id);
});

t.test('refused before it is kept: an unknown model or prompt set, labels the limits refuse, a source the key may not use', async (t) => {
  const cases: [unknown, number, string][] = [
    [{ ...body, model: 'no-such-model' }, 404, 'model_not_found'],
    [{ source: 'pacs', study: STUDY, prompt_set: 'no-such-set' }, 404, 'prompt_set_not_found'],
    [{ source: 'pacs', study: STUDY }, 400, 'bad_request'],
    [{ ...body, labels: Array.from({ length: 600 }, (_, i) => `label ${i}`) }, 413, 'too_many_prompts'],
    [{ ...body, source: 'nowhere' }, 400, 'bad_request'],
  ];
  for (const [request, status, code] of cases) {
    const res = await call(KEYS.a, 'POST', '/jobs', request);
    t.equal(res.status, status, code);
    t.equal(((await res.json()) as { error: { code: string } }).error.code, code);
  }
  t.same(((await (await call(KEYS.a, 'GET', '/jobs?status=queued')).json()) as { jobs: unknown[] }).jobs, [], 'none kept');
});

t.test('a PACS that is down: tried JOBS_MAX_ATTEMPTS times with backoff, then failed with the reason', async (t) => {
  const created = await call(KEYS.a, 'POST', '/jobs', { ...body, source: 'down' });
  const { id } = (await created.json()) as { id: string };
  const job = await settled(id);
  t.equal(job.status, 'failed');
  t.equal(job.attempts, 3);
  t.equal(job.error?.code, 'upstream_unavailable');
  const exposition = await (await call(KEYS.a, 'GET', '/metrics')).text();
  t.match(exposition, /^unimed_jobs_settled_total\{status="failed"\} [1-9]\d*$/m, 'counted as failed');
  t.match(exposition, /^unimed_jobs\{status="failed"\} [1-9]\d*$/m);
  t.match(exposition, /^unimed_jobs_settled_total\{status="done"\} [1-9]\d*$/m, "the first test's job, done");
});

t.test('JOBS_MAX_QUEUED_PER_KEY: a key past its queued jobs gets 429, another key still 202', async (t) => {
  // A job of a source that is down waits a minute for its second try: it stays queued while the test runs.
  const limited = testConfig({ ...env, JOBS_DB: join(dir, 'limited.sqlite'), JOBS_BACKOFF_MS: '60000', JOBS_MAX_QUEUED_PER_KEY: '1' });
  const other = await buildApp({ config: limited, metrics, registry, logger });
  t.teardown(() => other.close());
  const base = await other.listen({ host: '127.0.0.1', port: 0 });
  const post = (key: string) =>
    fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, source: 'down' }),
    });
  t.equal((await post(KEYS.a)).status, 202, "a's first job");
  const refused = await post(KEYS.a);
  t.equal(refused.status, 429, "a's second: over its limit");
  t.match(await refused.json(), { error: { code: 'rate_limited', message: /JOBS_MAX_QUEUED_PER_KEY/ } });
  t.equal((await post(KEYS.b)).status, 202, "b's first: b has its own");
  // The metrics read the store at each scrape: both jobs queued (waiting for their second try), the oldest's age.
  const exposition = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${KEYS.a}` } })).text();
  t.match(exposition, /^unimed_jobs\{status="queued"\} 2$/m);
  t.match(exposition, /^unimed_jobs\{status="running"\} 0$/m);
  const age = Number(/^unimed_jobs_oldest_queued_seconds ([0-9.e-]+)$/m.exec(exposition)?.[1]);
  t.ok(age >= 0 && age < 60, `the oldest queued job's age in seconds (${age})`);
  t.match(exposition, /^unimed_jobs_settled_total\{status="failed"\} \d+$/m, 'settled counters start at 0');
});

t.test('a job left running by a process that died is run again by the next one on the same file', async (t) => {
  const { id } = (await (await call(KEYS.a, 'POST', '/jobs', body)).json()) as { id: string };
  await settled(id);
  await app.close();
  const db = new DatabaseSync(dbFile);
  db.prepare("UPDATE jobs SET status = 'running', lease_until = 0, result = NULL WHERE id = ?").run(id);
  db.close();
  ({ app, url } = await start());
  const job = await settled(id);
  t.equal(job.status, 'done');
  t.equal(job.attempts, 2);
  t.equal(job.result?.series[0]?.series, SERIES);
});

t.test('at rest: the job file is 0600 and holds no UID in clear; a changed sealed value or key cannot be read', async (t) => {
  await app.close();
  t.equal(statSync(dbFile).mode & 0o777, 0o600, 'created readable by the service user only');
  for (const name of readdirSync(dir).filter((f) => f.startsWith('jobs.sqlite'))) {
    const bytes = readFileSync(join(dir, name)).toString('latin1');
    for (const uid of [STUDY, SERIES, ...INSTANCES]) t.notOk(bytes.includes(uid), `${name}: no UID in clear`);
  }
  const db = new DatabaseSync(dbFile);
  const [first] = db.prepare('SELECT id, request FROM jobs ORDER BY seq LIMIT 1').all() as { id: string; request: string }[];
  t.match(first?.request, /^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/, 'the request column is sealed (AES-256-GCM)');
  db.close();
  const cipher = new JobCipher(readFileSync(keyFile, 'utf8').replace(/\n$/, ''));
  t.match(cipher.open(first!.id, first!.request), { source: 'pacs', study: STUDY }, 'the key of JOBS_KEY_FILE opens it');
  t.throws(() => cipher.open('another-job', first!.request), 'bound to its job: not readable as another row');
  t.throws(() => new JobCipher('another-key-0123456789abcdef0123456').open(first!.id, first!.request), 'another key cannot read it');
  t.throws(() => loadConfig({ JOBS_DB: dbFile }), /JOBS_DB needs JOBS_KEY_FILE/);
  ({ app, url } = await start());
});

t.test('teardown', async () => {
  await app.close();
});

// A watch on a loopback PACS whose QIDO-RS study list the test changes (it filters ModalitiesInStudy and pages as
// a PACS does), with the real app: SQLite job store, runner, demo model over real HTTP. The first poll records the
// studies there and creates no job; a study that appears later gets one job, owned by the watch's key, once; the
// paging and the filters reach the PACS; a PACS that fails, a full queue, a crash between creating a job and
// recording its study, and two replicas polling at once neither crash the watch nor lose or double a job.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { buildApp } from '../../../src/app.ts';
import { JobCipher } from '../../../src/service/jobs/cipher.ts';
import { Jobs } from '../../../src/service/jobs/jobs.ts';
import { JobRunner } from '../../../src/service/jobs/runner.ts';
import { SqliteJobStore } from '../../../src/service/jobs/sqlite-store.ts';
import type { JobStore } from '../../../src/service/jobs/store.ts';
import { Watch, type PollResult, type WatchDeps } from '../../../src/service/jobs/watch.ts';
import { capturedLogger, loadRegistry } from '../../helpers/common.ts';
import { ct } from '../../fixtures/dicom/images.ts';
import { imageDicom } from '../../fixtures/dicom/writer.ts';

const ROOT = '1.2.826.0.1.3680043.8.498.9';
const single = imageDicom(ct());
/** The PACS's studies, in the order it lists them, and every study search it answered. */
const studies: { uid: string; modality: string }[] = [];
const add = (modality: string, n = 1) => {
  const added = Array.from({ length: n }, (_, i) => ({ uid: `${ROOT}.${studies.length + i + 1}`, modality }));
  studies.push(...added);
  return added.map((s) => s.uid);
};
const searches: URLSearchParams[] = [];
let failing = false;
const pacs = createServer((req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? '', 'http://pacs');
  const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/dicom+json' }).end(JSON.stringify(body));
  if (url.pathname === '/pacs/studies') {
    searches.push(url.searchParams);
    if (failing) return res.writeHead(503).end();
    const modality = url.searchParams.get('ModalitiesInStudy');
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const matching = studies.filter((s) => modality === null || s.modality === modality);
    const page = matching.slice(offset, offset + Number(url.searchParams.get('limit') ?? 1000));
    return json(page.map((s) => ({ '0020000D': { vr: 'UI', Value: [s.uid] }, '00080061': { vr: 'CS', Value: [s.modality] } })));
  }
  const series = /^\/pacs\/studies\/([\d.]+)\/series$/.exec(url.pathname);
  if (series !== null) return json([{ '0020000E': { vr: 'UI', Value: [`${series[1]}.1`] } }]);
  if (url.pathname.endsWith('/instances'))
    return json([1, 2].map((n) => ({ '00080018': { vr: 'UI', Value: [`${ROOT}.0.${n}`] }, '00200013': { vr: 'IS', Value: [n] } })));
  if (url.pathname.includes('/instances/')) return res.writeHead(200, { 'content-type': 'application/dicom' }).end(single);
  return res.writeHead(404).end();
});
await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;

const dir = mkdtempSync(join(tmpdir(), 'unimed-watch-'));
const SECRET = 'watch-test-key-0123456789abcdef0123';
writeFileSync(join(dir, 'jobs-key'), `${SECRET}\n`);
const KEYS = { watcher: 'watch-key-w-0123456789abcdef', other: 'watch-key-o-0123456789abcdef' };
const LABELS = ['a CT scan', 'an MRI scan'];
const env = {
  API_KEYS: `watcher:${KEYS.watcher} sources=pacs,other:${KEYS.other} sources=*`,
  DICOMWEB_SOURCES: JSON.stringify({ pacs: { url: `${base}/pacs` } }),
  JOBS_DB: join(dir, 'jobs.sqlite'),
  JOBS_KEY_FILE: join(dir, 'jobs-key'),
  WATCHES: JSON.stringify({
    ct: {
      source: 'pacs',
      key: 'watcher',
      filters: { ModalitiesInStudy: 'CT' },
      interval_seconds: 3600,
      page_size: 2,
      job: { labels: LABELS },
    },
    // A job the key could not create through POST /jobs: a prompt set the model does not have.
    mr: { source: 'pacs', key: 'watcher', filters: { ModalitiesInStudy: 'MR' }, interval_seconds: 3600, job: { prompt_set: 'nope' } },
  }),
};
const { logger, lines } = capturedLogger('info');
const audit: string[] = [];
const auditDestination = new Writable({ write: (chunk: Buffer, _e, done) => (audit.push(chunk.toString('utf8')), done()) });
const { registry, metrics, config } = await loadRegistry(env, { logger });

// Old studies: five CT (three pages of two) and one MR, there before the watch began.
add('CT', 5);
add('MR');
const app = await buildApp({ config, metrics, registry, logger, auditDestination });
const watch = app.watches.get('ct')!;
const firstPoll = once(watch.events, 'polled') as Promise<[PollResult]>;
const url = await app.listen({ host: '127.0.0.1', port: 0 });
t.teardown(async () => {
  await app.close();
  await registry.close();
  await new Promise((resolve) => pacs.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const jobsOf = async (key: string) =>
  ((await (await fetch(`${url}/jobs`, { headers: { authorization: `Bearer ${key}` } })).json()) as { jobs: { id: string }[] }).jobs;
/** The job's status once it settled (the runner's event), or at once if it already has. */
async function settled(id: string): Promise<string | undefined> {
  const waiting = new Promise<string>((resolve) => {
    const listener = (settledId: string, status: string) => {
      if (settledId !== id) return;
      app.jobs.runner.events.off('settled', listener);
      resolve(status);
    };
    app.jobs.runner.events.on('settled', listener);
  });
  const now = (await app.jobs.store.get(id, 'watcher'))?.status;
  return now === 'done' || now === 'failed' ? now : waiting;
}
const polls = async (outcome: string) => (await metrics.watchPolls.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;

t.test('the first poll (at start) pages through the old studies, records them and creates no job', async (t) => {
  const [first] = await firstPoll;
  t.same(first, { outcome: 'began', pages: 3, studies: 5, created: 0 });
  t.same(
    searches.filter((q) => q.get('ModalitiesInStudy') === 'CT').map((q) => [q.get('includefield'), q.get('limit'), q.get('offset')]),
    [0, 2, 4].map((offset) => ['0020000D', '2', String(offset)]),
    'each page asked for, with the filter, at its offset',
  );
  t.ok(await app.jobs.store.watchBegun('ct'));
  t.same(await jobsOf(KEYS.watcher), []);
  const again = await watch.pollOnce();
  t.same(again, { outcome: 'ok', pages: 3, studies: 5, created: 0 }, 'the old studies are not new on the next poll');
});

t.test('a new CT study gets one job, owned by the watch key; a new MR study none; polling again creates no other', async (t) => {
  const [study] = add('CT');
  add('MR');
  const poll = await watch.pollOnce();
  t.same(poll, { outcome: 'ok', pages: 4, studies: 6, created: 1 }, 'a full last page: one more asked for');
  const jobs = await jobsOf(KEYS.watcher);
  t.equal(jobs.length, 1);
  t.same(await jobsOf(KEYS.other), [], 'another key does not see it');
  t.equal(await settled(jobs[0]!.id), 'done', "the job ran with the watch key's grant");
  const row = await app.jobs.store.get(jobs[0]!.id, 'watcher');
  t.match(row, { keyId: 'watcher', sources: ['pacs'], request: { source: 'pacs', study, labels: LABELS } });
  t.same((await watch.pollOnce()).created, 0);
  t.equal((await jobsOf(KEYS.watcher)).length, 1, 'still one job');
  t.same((await metrics.watchJobsCreated.get()).values[0]?.value, 1);
  t.notOk(
    lines.some((line) => line.includes(ROOT)),
    'no UID in the service log',
  );
  const searchLines = audit.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.operation === 'search');
  t.ok(searchLines.length > 0);
  t.match(searchLines[0], { event: 'dicomweb', source: 'pacs', outcome: 'ok', watch: 'ct', key_id: 'watcher', route: 'watch' });
  t.notOk(
    audit.some((line) => line.includes(ROOT)),
    'no UID in the audit log',
  );
});

t.test('a PACS that fails: the poll ends with its code, counted, no crash; the next poll finds the study', async (t) => {
  failing = true;
  const [study] = add('CT');
  const failed = await watch.pollOnce();
  t.same(failed, { outcome: 'source_failed', pages: 0, studies: 0, created: 0, code: 'upstream_unavailable' });
  t.equal(await polls('source_failed'), 1);
  t.ok(lines.some((l) => l.includes('"outcome":"source_failed"') && l.includes('"code":"upstream_unavailable"')));
  failing = false;
  t.same((await watch.pollOnce()).created, 1);
  const rows = await app.jobs.store.list('watcher', undefined, 0, 10);
  t.equal(rows.filter((r) => (r.request as { study: string }).study === study).length, 1);
});

t.test('a job its key could not create through POST /jobs is refused: the poll ends, the study stays new', async (t) => {
  const mr = app.watches.get('mr')!;
  add('MR');
  t.match(await mr.pollOnce(), { outcome: 'refused', created: 0, code: 'prompt_set_not_found' });
  t.match(await mr.pollOnce(), { outcome: 'refused', code: 'prompt_set_not_found' }, 'tried again at the next poll');
  t.same(await jobsOf(KEYS.watcher).then((jobs) => jobs.length), 2, "the ct watch's jobs only");
});

/** A watch of the same configuration on another store (and so another history), with these parts replaced. */
function isolated(name: string, over: Partial<WatchDeps> & { store: JobStore }, maxPages = 10): Watch {
  const cipher = new JobCipher(SECRET);
  return new Watch(
    { ...config.watches[0]!, name, maxPages },
    {
      jobs: new Jobs(over.store, new JobRunner(over.store, config.jobs, () => Promise.resolve(null), logger), cipher, config.jobs),
      sources: app.dicomweb,
      fingerprint: (text) => cipher.fingerprint(text),
      check: () => undefined,
      record: () => undefined,
      metrics,
      log: logger,
      ...over,
    },
  );
}

t.test('a full queue ends the poll without recording the study; the next poll, with room, creates its job', async (t) => {
  const store = new SqliteJobStore(join(dir, 'limited.sqlite'), new JobCipher(SECRET));
  t.teardown(() => store.close());
  const cipher = new JobCipher(SECRET);
  const runner = new JobRunner(store, config.jobs, () => Promise.resolve(null), logger); // never started: jobs stay queued
  const tight = isolated('tight', { store, jobs: new Jobs(store, runner, cipher, { maxQueued: 100, maxQueuedPerKey: 1 }) });
  t.equal((await tight.pollOnce()).outcome, 'began');
  add('CT', 2);
  t.match(await tight.pollOnce(), { outcome: 'limited', created: 1, code: 'rate_limited' });
  const roomy = isolated('tight', { store, jobs: new Jobs(store, runner, cipher, { maxQueued: 100, maxQueuedPerKey: 100 }) });
  t.match(await roomy.pollOnce(), { outcome: 'ok', created: 1 });
  t.equal((await store.list('watcher', undefined, 0, 10)).length, 2, 'one job per new study');
});

t.test('a crash between creating a job and recording the study, and two replicas polling at once: one job per study', async (t) => {
  const store = new SqliteJobStore(join(dir, 'replicas.sqlite'), new JobCipher(SECRET));
  t.teardown(() => store.close());
  const a = isolated('shared', { store });
  t.equal((await a.pollOnce()).outcome, 'began');
  add('CT');
  let crash = true;
  const crashing = isolated('shared', {
    store: new Proxy(store, {
      get(target, property) {
        if (property === 'markSeen' && crash) {
          crash = false;
          return () => Promise.reject(new Error('the process died'));
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }),
  });
  t.match(await crashing.pollOnce(), { outcome: 'failed', created: 1 });
  t.same((await a.pollOnce()).created, 0, 'the study is found again, its job already kept');
  add('CT');
  const b = isolated('shared', { store });
  const both = await Promise.all([a.pollOnce(), b.pollOnce()]);
  t.equal(both[0].created + both[1].created, 1, 'two replicas, one job');
  t.equal((await store.list('watcher', undefined, 0, 10)).length, 2);
});

t.test('past max_pages the poll stops and says so', async (t) => {
  const store = new SqliteJobStore(join(dir, 'pages.sqlite'), new JobCipher(SECRET));
  t.teardown(() => store.close());
  t.match(await isolated('short', { store }, 2).pollOnce(), { outcome: 'truncated', pages: 2, studies: 4 });
  t.ok(lines.some((l) => l.includes('stopped at max_pages') && l.includes('"watch":"short"')));
});

// The PostgreSQL job store (JOBS_DATABASE_URL) against a real server (Debian's postgresql, test/helpers/postgres.ts):
// the store contract SQLite passes too; two stores with their own pools (as two replicas) draining one queue, each
// job claimed once; the service with JOBS_DATABASE_URL running a job against a loopback PACS to done, its UIDs
// sealed in the table and its password in no log line; the database stopped: 503 jobs_unavailable, then
// started again: jobs are taken again; stopped while a job runs: its outcome is lost, the job run again.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { PostgresJobStore } from '../../src/service/jobs/postgres-store.ts';
import type { ClaimedJob, JobStore } from '../../src/service/jobs/store.ts';
import { ct } from '../fixtures/dicom/images.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';
import { capturedLogger, loadRegistry, until } from '../helpers/common.ts';
import { readAnswer, SpecChecker } from '../helpers/openapi-check.ts';
import { POSTGRES_INSTALL, postgresBin, startPostgres, type Postgres } from '../helpers/postgres.ts';
import { requireTool } from '../helpers/tools.ts';
import { CIPHER, storeContract } from '../service/jobs/store-contract.ts';

const open = async (server: Postgres, url?: string): Promise<PostgresJobStore> =>
  PostgresJobStore.open({ url: url ?? (await server.createDatabase()), poolSize: 4 }, CIPHER);

t.test('the PostgreSQL job store', async (t) => {
  const bin = postgresBin();
  if (!requireTool(t, bin === undefined ? 'initdb' : join(bin, 'initdb'), POSTGRES_INSTALL)) return;
  const started = Date.now();
  const server = await startPostgres(bin!);
  t.comment(`PostgreSQL started in ${Date.now() - started} ms`);
  t.teardown(() => server.close());

  t.test('the store contract', (t) => {
    storeContract(t, () => open(server));
    t.end();
  });

  t.test('two stores with their own pools (two replicas) drain one queue: each job claimed exactly once', async (t) => {
    const url = await server.createDatabase();
    // Both open the schema at once, as replicas starting together do.
    const replicas = await Promise.all([open(server, url), open(server, url)]);
    t.teardown(() => Promise.all(replicas.map((store) => store.close())));
    const jobs = 50;
    for (let i = 0; i < jobs; i += 1)
      await replicas[0].insert({ id: `r-${i}`, keyId: 'a', idempotencyKey: undefined, bodyHash: 'h', request: { i }, sources: ['*'] }, i);
    /** One runner's loop: claims until the queue is empty, several claims in flight at once. */
    const drain = async (store: JobStore): Promise<string[]> => {
      const taken: string[] = [];
      const worker = async (): Promise<void> => {
        for (let claimed: ClaimedJob | undefined; (claimed = await store.claim(1_000, 100_000)) !== undefined;) {
          taken.push(claimed.row.id);
          await store.finish(claimed.row.id, claimed.owner, { status: 'done', result: null }, 1_001);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      return taken;
    };
    const [first, second] = await Promise.all([drain(replicas[0]), drain(replicas[1])]);
    const all = [...first, ...second];
    t.equal(all.length, jobs, 'as many claims as jobs');
    t.equal(new Set(all).size, jobs, 'no job claimed twice');
    t.comment(`claims: ${first.length} by one store, ${second.length} by the other`);
    t.same((await replicas[1].summary()).counts, { queued: 0, running: 0, done: jobs, failed: 0 });
  });

  t.test('the service with JOBS_DATABASE_URL', async (t) => {
    const STUDY = '1.2.826.0.1.3680043.8.498.7171';
    const SERIES = `${STUDY}.1`;
    const INSTANCE = `${SERIES}.1`;
    const single = imageDicom(ct());
    /** The PACS answers the instance once `held` resolves (at once but in the last subtest); `arrived`: it was asked. */
    let held: Promise<void> = Promise.resolve();
    let arrived = false;
    const pacs = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = req.url ?? '';
      if (path.includes(`/studies/${STUDY}/series?`))
        return res
          .writeHead(200, { 'content-type': 'application/dicom+json' })
          .end(JSON.stringify([{ '0020000E': { vr: 'UI', Value: [SERIES] } }]));
      if (path.includes('/instances?'))
        return res
          .writeHead(200, { 'content-type': 'application/dicom+json' })
          .end(JSON.stringify([{ '00080018': { vr: 'UI', Value: [INSTANCE] }, '00200013': { vr: 'IS', Value: [1] } }]));
      if (!path.endsWith(`/instances/${INSTANCE}`)) return res.writeHead(404).end();
      arrived = true;
      void held.then(() => res.writeHead(200, { 'content-type': 'application/dicom' }).end(single));
    });
    await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'unimed-jobs-pg-'));
    const keyFile = join(dir, 'jobs-key');
    writeFileSync(keyFile, 'jobs-pg-test-key-0123456789abcdef0123\n');
    const databaseUrl = await server.createDatabase();
    const env = {
      DICOMWEB_SOURCES: JSON.stringify({ pacs: { url: `http://127.0.0.1:${(pacs.address() as AddressInfo).port}/pacs` } }),
      JOBS_DATABASE_URL: databaseUrl,
      JOBS_KEY_FILE: keyFile,
      JOBS_LEASE_MS: '1000',
      JOBS_BACKOFF_MS: '20',
    };
    const { logger, lines } = capturedLogger('info');
    const { registry, metrics, config } = await loadRegistry(env, { logger });
    const app = await buildApp({ config, metrics, registry, logger });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const raw = new pg.Client(databaseUrl);
    t.teardown(async () => {
      await raw.end().catch(() => undefined);
      await app.close();
      await registry.close();
      await new Promise((resolve) => pacs.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });
    const post = () =>
      fetch(`${base}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: 'pacs', study: STUDY, labels: ['a CT scan', 'an MRI scan'] }),
      });
    const settled = (id: string) =>
      new Promise<string>((resolve) => {
        const listener = (settledId: string, status: string) => {
          if (settledId !== id) return;
          app.jobs.runner.events.off('settled', listener);
          resolve(status);
        };
        app.jobs.runner.events.on('settled', listener);
      });

    const created = await post();
    t.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    t.equal(await settled(id), 'done');
    const job = (await (await fetch(`${base}/jobs/${id}`)).json()) as { status: string; result: { series: { series: string }[] } };
    t.equal(job.status, 'done');
    t.equal(job.result.series[0]?.series, SERIES, 'the result read back through the cipher');

    await raw.connect();
    const { rows } = await raw.query<{ request: string; result: string }>('SELECT request, result FROM jobs WHERE id = $1', [id]);
    t.match(rows[0]?.request, /^v1:/, 'the request column is sealed');
    for (const column of ['request', 'result'] as const)
      t.notOk(rows[0]![column].includes('1.2.826.0.1.3680043'), `no UID in clear in the ${column} column`);
    await raw.end();

    const checker = new SpecChecker((await (await fetch(`${base}/openapi.json`)).json()) as ConstructorParameters<typeof SpecChecker>[0]);
    await server.stop();
    const down = await post();
    t.equal(down.status, 503, 'the database stopped: 503, not 500');
    t.equal(down.headers.get('retry-after'), '5');
    const answer = await readAnswer(down);
    t.match(answer.body, { error: { code: 'jobs_unavailable', message: /^the job database is unavailable \(ECONNREFUSED\)/ } });
    t.notOk(JSON.stringify(answer.body).includes(server.password), 'the message holds no part of the URL');
    t.same(checker.problems('POST', '/jobs', answer), [], 'POST /jobs -> 503: as openapi.yaml declares');
    for (const path of [`/jobs/${id}`, '/jobs']) {
      const read = await readAnswer(await fetch(base + path));
      t.equal(read.status, 503);
      t.same(checker.problems('GET', path, read), [], `GET ${path === '/jobs' ? path : '/jobs/{id}'} -> 503: as openapi.yaml declares`);
    }

    await server.start();
    const again = await post();
    t.equal(again.status, 202, 'started again: the pool connects anew');
    t.equal(await settled(((await again.json()) as { id: string }).id), 'done');

    // The database stops while a job runs: its outcome cannot be written (logged, the process goes on); once the
    // database is back, the job's lease has ended and it is taken and run again.
    let release = () => {};
    held = new Promise((resolve) => (release = resolve));
    arrived = false;
    const running = await post();
    const runningId = ((await running.json()) as { id: string }).id;
    await until('the job to ask the PACS for its instance', () => arrived);
    await server.stop();
    release();
    await until('the runner to log that it could not settle the job', () =>
      lines.some((line) => line.includes('a job could not be settled')),
    );
    const done = settled(runningId);
    await server.start();
    t.equal(await done, 'done', 'the job is run again after its lease ended');
    const rerun = (await (await fetch(`${base}/jobs/${runningId}`)).json()) as { attempts: number };
    t.equal(rerun.attempts, 2);

    t.notOk(
      lines.some((line) => line.includes(server.password)),
      'no log line holds the database password',
    );
  });
});

// Durable jobs end to end with two service processes sharing one PostgreSQL queue, against a real Orthanc: 10
// studies, 10 jobs storing their SRs; one process is killed with SIGKILL once the first few are done, the other
// takes over its job once the lease ends: all 10 done, each stored once (Orthanc holds exactly 10 SRs, one per
// study, each valid for dciodvfy and referencing its instances), both processes ran jobs, none was run to done
// twice. Needs PostgreSQL, `orthanc`, `orthanc-dicomweb`, `dciodvfy`.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { checkStoredReports, postJob, settledJobs, srCount, storeStudies } from '../helpers/jobs-e2e.ts';
import { startOrthanc, requireOrthanc } from '../helpers/orthanc.ts';
import { POSTGRES_INSTALL, postgresBin, startPostgres } from '../helpers/postgres.ts';
import { startService } from '../helpers/service-process.ts';

const LABELS = ['a CT scan', 'an MRI scan', 'a chest X-ray'];

/** The job ids whose SR a process stored: its audit log's store lines. */
function storedBy(auditLog: string): Set<string> {
  const text = existsSync(auditLog) ? readFileSync(auditLog, 'utf8') : '';
  const lines = text.split('\n').filter((l) => l.includes('"operation":"store"'));
  return new Set(lines.map((l) => (JSON.parse(l) as { job_id: string }).job_id));
}

t.test('two processes share one PostgreSQL queue; one is killed; every job is done once, one SR per study', async (t) => {
  const bin = postgresBin();
  const orthancBinary = requireOrthanc(t, [
    { command: 'dciodvfy', install: 'apt-get install dicom3tools' },
    { command: bin === undefined ? 'initdb' : join(bin, 'initdb'), install: POSTGRES_INSTALL },
  ]);
  if (orthancBinary === undefined) return;
  const [orthanc, postgres] = await Promise.all([startOrthanc(orthancBinary), startPostgres(bin!)]);
  t.teardown(() => Promise.all([orthanc.stop(), postgres.stop()]));
  const dir = mkdtempSync(join(tmpdir(), 'unimed-jobs-pg-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'orthanc-password'), `${orthanc.password}\n`);
  writeFileSync(join(dir, 'jobs-key'), 'jobs-pg-e2e-key-0123456789abcdef0123456\n');
  const auth = { type: 'basic', username: orthanc.username, password_file: join(dir, 'orthanc-password') };
  const env = (name: string) => ({
    DICOMWEB_SOURCES: JSON.stringify({ orthanc: { url: orthanc.dicomweb, auth, timeout_ms: 30_000 } }),
    JOBS_DATABASE_URL: databaseUrl,
    JOBS_KEY_FILE: join(dir, 'jobs-key'),
    JOBS_CONCURRENCY: '1',
    JOBS_LEASE_MS: '2000',
    AUDIT_LOG: join(dir, `audit-${name}.log`),
  });
  const databaseUrl = await postgres.createDatabase();

  const studies = await storeStudies(orthanc, '1.2.826.0.1.3680043.8.498.7300', 10);
  const [a, b] = await Promise.all([startService(env('a'), join(dir, 'a.log')), startService(env('b'), join(dir, 'b.log'))]);
  t.teardown(() => Promise.all([a.kill('SIGKILL'), b.kill('SIGKILL')]));
  const ids: string[] = [];
  for (const s of studies) ids.push(await postJob(a.url, { source: 'orthanc', study: s.study, labels: LABELS, destination: 'orthanc' }));
  await settledJobs(b.url, ids, 3);
  await a.kill('SIGKILL');
  const before = await srCount(orthanc);

  const jobs = await settledJobs(b.url, ids);
  t.same(
    jobs.map((j) => j.status),
    Array(10).fill('done'),
    'all 10 jobs done, none lost',
  );
  t.equal(await srCount(orthanc), 10, 'Orthanc holds exactly 10 SRs');
  const errors = await checkStoredReports(t, orthanc, studies, jobs, dir);
  const [byA, byB] = [storedBy(join(dir, 'audit-a.log')), storedBy(join(dir, 'audit-b.log'))];
  t.ok(byA.size > 0 && byB.size > 0, `both processes ran jobs (a stored ${byA.size}, b ${byB.size})`);
  const twice = ids.filter((id) => byA.has(id) && byB.has(id));
  t.ok(twice.length <= 1, 'at most the job a was running when killed was stored from both (the second found it stored)');
  for (const id of twice) t.equal(jobs[ids.indexOf(id)]?.result?.series[0]?.report?.outcome, 'already_stored');
  const retried = jobs.filter((j) => j.attempts > 1);
  t.ok(retried.length <= 1, `only the job a held was run again (${retried.length})`);
  t.comment(
    `figures: 2 processes, 10 jobs, 1 SIGKILL with ${before} SRs stored; a stored ${byA.size}, b ${byB.size}; ` +
      `attempts ${jobs.map((j) => j.attempts).join(',')}; dciodvfy errors ${errors}`,
  );
});

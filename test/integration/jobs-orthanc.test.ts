// Durable jobs end to end against a real Orthanc, with the service as its own process (demo model, SQLite jobs
// file): 10 studies, 10 jobs storing their SRs back; the service is killed with SIGKILL once the first few are done
// and started again: all 10 reach done and Orthanc holds exactly 10 SRs, one per study, each valid for dciodvfy and
// referencing its study's instances. Then the narrow window: a proxy between the service and Orthanc lets an SR's
// STOW-RS through and holds Orthanc's answer while the test kills the service; the job runs again after the store
// and before its record says so, and Orthanc still holds one SR for it. Needs `orthanc`, `orthanc-dicomweb`, `dciodvfy`.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { checkStoredReports, postJob, settledJobs, srCount, srsOf, storeStudies, type JobView } from '../helpers/jobs-e2e.ts';
import { startOrthanc, requireOrthanc } from '../helpers/orthanc.ts';
import { startService } from '../helpers/service-process.ts';

const LABELS = ['a CT scan', 'an MRI scan', 'a chest X-ray'];

t.test('jobs survive SIGKILL and store exactly one SR per study in Orthanc', async (t) => {
  const binary = requireOrthanc(t, [{ command: 'dciodvfy', install: 'apt-get install dicom3tools' }]);
  if (binary === undefined) return;
  const orthanc = await startOrthanc(binary);
  t.teardown(() => orthanc.stop());
  const dir = mkdtempSync(join(tmpdir(), 'unimed-jobs-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'orthanc-password'), `${orthanc.password}\n`);
  writeFileSync(join(dir, 'jobs-key'), 'jobs-e2e-key-0123456789abcdef0123456\n');

  // The proxy: passes everything to Orthanc; while `holdStores` is set, a STOW-RS reaches Orthanc and its answer
  // is kept from the service (the connection stays open until the service dies).
  const orthancUrl = new URL(orthanc.url);
  let holdStores = false;
  let storeHeld: (() => void) | undefined;
  const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    const upstream = httpRequest(
      { host: orthancUrl.hostname, port: orthancUrl.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          if (req.method === 'POST' && holdStores) {
            storeHeld?.();
            return; // stored in Orthanc; the answer never reaches the service
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(chunks));
        });
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    proxy.closeAllConnections();
    return new Promise((resolve) => proxy.close(resolve));
  });
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/dicom-web`;

  const auth = { type: 'basic', username: orthanc.username, password_file: join(dir, 'orthanc-password') };
  const env = {
    DICOMWEB_SOURCES: JSON.stringify({
      orthanc: { url: orthanc.dicomweb, auth, timeout_ms: 30_000 },
      proxied: { url: proxyUrl, auth, timeout_ms: 30_000 },
    }),
    JOBS_DB: join(dir, 'jobs.sqlite'),
    JOBS_KEY_FILE: join(dir, 'jobs-key'),
    JOBS_CONCURRENCY: '1',
    // A job whose process died is taken again 2 s after its last renewal.
    JOBS_LEASE_MS: '2000',
    AUDIT_LOG: '/dev/null',
  };
  const log = join(dir, 'service.log');

  const studies = await storeStudies(orthanc, '1.2.826.0.1.3680043.8.498.7100', 10);
  let service = await startService(env, log);
  t.teardown(() => service.kill('SIGKILL'));
  const ids: string[] = [];
  for (const s of studies)
    ids.push(await postJob(service.url, { source: 'orthanc', study: s.study, labels: LABELS, destination: 'orthanc' }));
  await settledJobs(service.url, ids, 3);
  await service.kill('SIGKILL');
  const before = await srCount(orthanc);
  t.ok(before >= 3 && before < 10, `killed with ${before} of 10 SRs stored`);

  service = await startService(env, log);
  const jobs = await settledJobs(service.url, ids);
  t.same(
    jobs.map((j) => j.status),
    Array(10).fill('done'),
    'all 10 jobs done after the restart',
  );
  t.equal(await srCount(orthanc), 10, 'Orthanc holds exactly 10 SRs');
  const errors = await checkStoredReports(t, orthanc, studies, jobs, dir);
  const attempts = jobs.map((j) => j.attempts);
  t.comment(`figures: 10 jobs, 1 SIGKILL, ${before} SRs before it, 10 after; attempts ${attempts.join(',')}; dciodvfy errors ${errors}`);

  // The narrow window: the store reaches Orthanc, the answer is held, the service dies before recording it.
  const [held] = await storeStudies(orthanc, '1.2.826.0.1.3680043.8.498.7200', 1);
  holdStores = true;
  const stored = new Promise<void>((resolve) => (storeHeld = resolve));
  const id = await postJob(service.url, { source: 'orthanc', study: held!.study, labels: LABELS, destination: 'proxied' });
  await stored;
  t.equal((await srsOf(orthanc, held!.study)).length, 1, 'the SR reached Orthanc');
  await service.kill('SIGKILL');
  holdStores = false;
  service = await startService(env, log);
  const [resumed] = (await settledJobs(service.url, [id])) as [JobView];
  t.equal(resumed.status, 'done', JSON.stringify(resumed.error ?? {}));
  t.equal(resumed.attempts, 2, 'run again after the kill');
  t.same(
    jobs.map((j) => j.attempts).filter((a) => a > 2),
    [],
    'no job tried more than twice (once before the kill, once after)',
  );
  t.equal(resumed.result?.series[0]?.report?.outcome, 'already_stored', 'the second run found its SR in Orthanc');
  await checkStoredReports(t, orthanc, [held!], [resumed], dir);
  t.equal(await srCount(orthanc), 11, 'still one SR per study');
});

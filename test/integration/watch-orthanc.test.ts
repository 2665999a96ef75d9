// A watch against a real PACS: Debian's Orthanc with its DICOMweb plugin (loopback, basic auth, temporary storage).
// The watch searches with ModalitiesInStudy=CT, which Orthanc does: a CT study there before the first poll gets no
// job, a CT study stored afterwards gets one (run to done with the demo model), an MR study stored afterwards none.
// Needs `orthanc` and `orthanc-dicomweb` (Debian).
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import type { PollResult } from '../../src/service/jobs/watch.ts';
import { capturedLogger, loadRegistry } from '../helpers/common.ts';
import { startOrthanc, requireOrthanc } from '../helpers/orthanc.ts';
import { ct } from '../fixtures/dicom/images.ts';
import { identified } from '../fixtures/dicom/ct-series.ts';

const ROOT = '1.2.826.0.1.3680043.8.498.6161';
/** One image of a study of its own, of the given modality. */
const study = (n: number, modality: string) => {
  const uid = `${ROOT}.${n}`;
  return {
    uid,
    bytes: identified({ ...ct(), modality }, { study: uid, series: `${uid}.1`, instance: `${uid}.1.1`, patientId: `PID-W${n}` }),
  };
};

t.test('a watch on Orthanc: new CT studies get a job, old ones and MR ones do not', async (t) => {
  const binary = requireOrthanc(t);
  if (binary === undefined) return;
  const orthanc = await startOrthanc(binary);
  t.teardown(() => orthanc.stop());
  const old = study(1, 'CT');
  await orthanc.store(old.bytes);

  const dir = mkdtempSync(join(tmpdir(), 'unimed-watch-orthanc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'password'), `${orthanc.password}\n`);
  writeFileSync(join(dir, 'jobs-key'), 'watch-orthanc-key-0123456789abcdef0123\n');
  const KEY = 'watch-orthanc-0123456789abcdef';
  const { logger } = capturedLogger('info');
  const { registry, metrics, config } = await loadRegistry(
    {
      API_KEYS: `watcher:${KEY} sources=orthanc`,
      DICOMWEB_SOURCES: JSON.stringify({
        orthanc: { url: orthanc.dicomweb, auth: { type: 'basic', username: orthanc.username, password_file: join(dir, 'password') } },
      }),
      JOBS_DB: join(dir, 'jobs.sqlite'),
      JOBS_KEY_FILE: join(dir, 'jobs-key'),
      WATCHES: JSON.stringify({
        ct: {
          source: 'orthanc',
          key: 'watcher',
          filters: { ModalitiesInStudy: 'CT' },
          interval_seconds: 3600,
          page_size: 2,
          job: { labels: ['a CT scan', 'an MRI scan'] },
        },
      }),
    },
    { logger },
  );
  const app = await buildApp({ config, metrics, registry, logger });
  const watch = app.watches.get('ct')!;
  const firstPoll = once(watch.events, 'polled') as Promise<[PollResult]>;
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await registry.close();
  });
  const jobs = async () =>
    ((await (await fetch(`${url}/jobs`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { jobs: { id: string }[] }).jobs;

  const [first] = await firstPoll;
  t.same(first, { outcome: 'began', pages: 1, studies: 1, created: 0 }, 'the old CT study is recorded');
  t.same(await jobs(), [], 'no job for it');

  const fresh = study(2, 'CT');
  await orthanc.store(fresh.bytes);
  await orthanc.store(study(3, 'MR').bytes);
  const poll = await watch.pollOnce();
  t.same(
    poll,
    { outcome: 'ok', pages: 2, studies: 2, created: 1 },
    'Orthanc lists the two CT studies, not the MR one (a full page, then an empty one)',
  );
  const [job] = await jobs();
  t.ok(job);
  const settled = new Promise<string>((resolve) =>
    app.jobs.runner.events.on('settled', (id: string, status: string) => {
      if (id === job!.id) resolve(status);
    }),
  );
  const now = await app.jobs.store.get(job!.id, 'watcher');
  t.equal(now?.status === 'done' || now?.status === 'failed' ? now.status : await settled, 'done');
  t.match(await app.jobs.store.get(job!.id, 'watcher'), { request: { source: 'orthanc', study: fresh.uid } });
  t.same((await watch.pollOnce()).created, 0, 'polling again: no second job');
  t.equal((await jobs()).length, 1);
});

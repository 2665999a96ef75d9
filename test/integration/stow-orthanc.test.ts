// Storing the service's DICOM SRs in a real PACS with STOW-RS: Debian's Orthanc with its DICOMweb plugin on a
// loopback port (basic auth, temporary storage). An SR made by the project's writer (src/dicom-sr/) is stored, then
// the same evaluation made again (same UIDs, another Content Time) is stored: the first is `stored`, the second
// `already_stored`, and Orthanc holds one instance, the first. Orthanc's own answer to a second STOW-RS of an
// instance it holds is pinned here too (200, the instance referenced: the same as a first store), and so is its 409
// (Failure Reason 0x0110) for an instance under another study than its own, which is no success. Needs `orthanc` and `orthanc-dicomweb`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { dicomwebConfig } from '../../src/config/dicomweb.ts';
import type { SourceAccess } from '../../src/dicomweb/access.ts';
import { DicomwebSources, type SourceCall } from '../../src/dicomweb/sources.ts';
import { stowAnswer, type StoredInstance } from '../../src/dicomweb/stow.ts';
import { DicomMessage, DicomMetaDictionary } from '../../src/dicom-sr/dcmjs.ts';
import { classificationReport, type ReportInput } from '../../src/dicom-sr/report.ts';
import { readSourceInstance } from '../../src/dicom-sr/source.ts';
import { ServiceError } from '../../src/errors.ts';
import { Metrics } from '../../src/metrics.ts';
import { startOrthanc, requireOrthanc } from '../helpers/orthanc.ts';
import { ctSeries, SERIES_STUDY_UID } from '../fixtures/dicom/ct-series.ts';

/** The project's SR of a classification of two CT slices, made at `createdAt`. */
function report(createdAt: Date): Buffer {
  const instances = ctSeries(2, 16).map((s) => ({ source: readSourceInstance(s.bytes) }));
  const input: ReportInput = {
    model: { id: 'unimed-demo', sha256: 'b'.repeat(64) },
    predictions: [
      { label: 'ct', probability: 0.8 },
      { label: 'xray', probability: 0.2 },
    ],
    instances,
    classes: { promptSet: { name: 'modality', version: '1' } },
    promptSet: { name: 'modality', version: '1' },
    serviceVersion: '0.0.0-test',
    createdAt,
  };
  return classificationReport(input);
}

function storedInstance(bytes: Buffer): StoredInstance {
  const d = DicomMetaDictionary.naturalizeDataset(DicomMessage.readFile(new Uint8Array(bytes).buffer).dict);
  return { study: String(d.StudyInstanceUID), series: String(d.SeriesInstanceUID), instance: String(d.SOPInstanceUID), bytes };
}

t.test('STOW-RS into Orthanc: stored once, then already_stored, one instance', async (t) => {
  const binary = requireOrthanc(t);
  if (binary === undefined) return;
  const orthanc = await startOrthanc(binary);
  t.teardown(() => orthanc.stop());
  const secrets = mkdtempSync(join(tmpdir(), 'unimed-stow-orthanc-'));
  writeFileSync(join(secrets, 'password'), `${orthanc.password}\n`);
  const metrics = new Metrics();
  const sources = new DicomwebSources(
    dicomwebConfig(
      {
        DICOMWEB_SOURCES: JSON.stringify({
          orthanc: { url: orthanc.dicomweb, auth: { type: 'basic', username: orthanc.username, password_file: join(secrets, 'password') } },
        }),
      },
      process.cwd(),
    ),
    metrics,
  );
  const records: SourceAccess[] = [];
  const call: SourceCall = { sourceGrant: { allowed: new Set(['orthanc']), record: (access) => records.push(access) } };
  const authorization = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
  const requests = async (): Promise<number> =>
    (await metrics.dicomwebRequests.get()).values.find((v) => v.labels.source === 'orthanc')?.value ?? 0;
  const stores = async (outcome: string): Promise<number> =>
    (await metrics.srStores.get()).values.find((v) => v.labels.destination === 'orthanc' && v.labels.outcome === outcome)?.value ?? 0;
  /** Orthanc's own index (REST /tools/find), not DICOMweb: the instances of that SOP Instance UID, and their Content Time. */
  const held = async (uid: string): Promise<string[]> => {
    const res = await fetch(`${orthanc.url}/tools/find`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ Level: 'Instance', Query: { SOPInstanceUID: uid }, Expand: true }),
    });
    const found = (await res.json()) as { ID: string }[];
    return Promise.all(
      found.map(async ({ ID }) => {
        const tags = (await (await fetch(`${orthanc.url}/instances/${ID}/simplified-tags`, { headers: { authorization } })).json()) as {
          ContentTime?: string;
        };
        return String(tags.ContentTime);
      }),
    );
  };

  const first = storedInstance(report(new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6))));
  const again = storedInstance(report(new Date(Date.UTC(2025, 0, 2, 9, 8, 7, 6))));
  t.equal(first.study, SERIES_STUDY_UID, 'the SR files under the source study');
  t.same([again.study, again.series, again.instance], [first.study, first.series, first.instance], 'the same evaluation: the same UIDs');
  t.notOk(again.bytes.equals(first.bytes), 'other bytes (Content Time)');

  t.equal(await sources.storeInstance('orthanc', first, call), 'stored');
  t.equal(await requests(), 2, 'checked (QIDO-RS), then sent (STOW-RS)');
  t.same(await held(first.instance), ['030405.006'], 'Orthanc holds it');
  t.equal(await sources.storeInstance('orthanc', again, call), 'already_stored');
  t.equal(await requests(), 3, 'the second store is the check alone');
  t.same(await held(first.instance), ['030405.006'], 'one instance, the first');
  const qido = (await (
    await fetch(`${orthanc.dicomweb}/studies/${first.study}/instances?SOPInstanceUID=${first.instance}`, { headers: { authorization } })
  ).json()) as unknown[];
  t.equal(qido.length, 1, 'QIDO-RS lists one instance of that UID under the study');
  t.same(
    records.map((r) => [r.operation, r.outcome, r.instance]),
    [
      ['store', 'ok', first.instance],
      ['store', 'ok', first.instance],
    ],
  );
  t.same([await stores('stored'), await stores('already_stored'), await stores('failed')], [1, 1, 0]);

  // Why step 1 exists: Orthanc answers a STOW-RS of an instance it holds as it answers a first store.
  const boundary = 'orthanc-duplicate-probe';
  const duplicate = await fetch(`${orthanc.dicomweb}/studies/${first.study}`, {
    method: 'POST',
    headers: {
      authorization,
      accept: 'application/dicom+json',
      'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
    },
    body: new Uint8Array(
      Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
        again.bytes,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]),
    ),
  });
  t.equal(duplicate.status, 200, "Orthanc's answer to a duplicate: 200");
  t.same(stowAnswer(Buffer.from(await duplicate.arrayBuffer()), first.instance), { referenced: true, failed: false, reason: undefined });
  t.same(await held(first.instance), ['030405.006'], 'and it kept the first (OverwriteInstances is false by default)');

  // Orthanc answers 409 with Failure Reason 0x0110 (processing failure) for an instance of another study than the URL's,
  // though it holds that instance under its own study: the check under the URL's study finds nothing, so no success.
  const otherStudy = '1.2.826.0.1.3680043.8.498.6161';
  const misfiled = await sources.storeInstance('orthanc', { ...first, study: otherStudy }, call).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(misfiled instanceof ServiceError);
  t.equal((misfiled as ServiceError).code, 'store_refused');
  t.match((misfiled as Error).message, /HTTP 409, failure reason 0x0110\)/);
  t.notOk((misfiled as Error).message.includes(first.instance), 'no UID in the message');
  t.same(await held(first.instance), ['030405.006']);
  t.equal(await stores('failed'), 1);
});

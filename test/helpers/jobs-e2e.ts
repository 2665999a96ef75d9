/**
 * What the jobs' end-to-end tests share (test/integration/jobs-*.test.ts): generated studies in a real Orthanc,
 * the service's job API over HTTP, and the checks of what the PACS ends up holding (one SR per study, each valid
 * for dciodvfy and referencing its study's instances).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { DicomMessage, DicomMetaDictionary } from '../../src/dicom-sr/dcmjs.ts';
import { CT_IMAGE_STORAGE, identified } from '../fixtures/dicom/ct-series.ts';
import { ct } from '../fixtures/dicom/images.ts';
import type { Element } from '../fixtures/dicom/writer.ts';
import type { Orthanc } from './orthanc.ts';
import { until } from './common.ts';

export interface Study {
  study: string;
  series: string;
  instances: string[];
}

/** `count` studies of one CT series of two slices each, their UIDs under `root`; stored in Orthanc. */
export async function storeStudies(orthanc: Orthanc, root: string, count: number, modality = 'CT'): Promise<Study[]> {
  const studies: Study[] = [];
  for (let k = 1; k <= count; k += 1) {
    const study = `${root}.${k}`;
    const series = `${study}.1`;
    const instances = [`${series}.1`, `${series}.2`];
    for (const [i, instance] of instances.entries()) {
      const extra: Element[] = [
        [0x00080016, 'UI', CT_IMAGE_STORAGE],
        [0x00080060, 'CS', modality],
        [0x00200013, 'IS', String(i + 1)],
        [0x00200032, 'DS', `-160\\-160\\${-2.5 * i}`],
        [0x00200037, 'DS', '1\\0\\0\\0\\1\\0'],
      ];
      await orthanc.store(identified(ct(), { study, series, instance, patientId: `PID-JOBS-${k}` }, extra));
    }
    studies.push({ study, series, instances });
  }
  return studies;
}

export interface JobView {
  id: string;
  status: string;
  attempts: number;
  error?: { code: string; message: string };
  result?: { series: { series: string; report?: { series: string; instance: string; outcome: string } }[] };
}

export async function postJob(url: string, body: unknown, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${url}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (res.status !== 202) throw new Error(`POST /jobs answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export async function getJob(url: string, id: string, headers: Record<string, string> = {}): Promise<JobView> {
  const res = await fetch(`${url}/jobs/${id}`, { headers });
  if (res.status !== 200) throw new Error(`GET /jobs/${id} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as JobView;
}

/** Polls the job list (one request a look; a condition, not a sleep) until `count` of `ids` are settled; their views. */
export async function settledJobs(url: string, ids: string[], count = ids.length, timeoutMs = 180_000): Promise<JobView[]> {
  const wanted = new Set(ids);
  await until(
    `${count} of ${ids.length} jobs to settle`,
    async () => {
      const res = await fetch(`${url}/jobs?limit=500`).catch(() => undefined);
      if (res?.ok !== true) return false;
      const { jobs } = (await res.json()) as { jobs: JobView[] };
      return jobs.filter((j) => wanted.has(j.id) && (j.status === 'done' || j.status === 'failed')).length >= count;
    },
    timeoutMs,
  );
  return Promise.all(ids.map((id) => getJob(url, id)));
}

async function orthancGet<T>(orthanc: Orthanc, path: string): Promise<T> {
  const authorization = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
  const res = await fetch(`${orthanc.url}${path}`, { headers: { authorization } });
  if (!res.ok) throw new Error(`Orthanc ${path}: ${res.status}`);
  return (res.headers.get('content-type') ?? '').includes('json') ? ((await res.json()) as T) : (Buffer.from(await res.arrayBuffer()) as T);
}

/** The SR instances Orthanc holds under `study` (its REST API): SOP Instance UID and Part 10 bytes. */
export async function srsOf(orthanc: Orthanc, study: string): Promise<{ uid: string; bytes: Buffer }[]> {
  const authorization = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
  const found = await fetch(`${orthanc.url}/tools/find`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ Level: 'Instance', Query: { StudyInstanceUID: study, Modality: 'SR' }, Expand: true }),
  });
  const instances = (await found.json()) as { ID: string; MainDicomTags: { SOPInstanceUID: string } }[];
  return Promise.all(
    instances.map(async (i) => ({
      uid: i.MainDicomTags.SOPInstanceUID,
      bytes: await orthancGet<Buffer>(orthanc, `/instances/${i.ID}/file`),
    })),
  );
}

/** Every SR instance Orthanc holds. */
export async function srCount(orthanc: Orthanc): Promise<number> {
  const authorization = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
  const found = await fetch(`${orthanc.url}/tools/find`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ Level: 'Instance', Query: { Modality: 'SR' } }),
  });
  return ((await found.json()) as unknown[]).length;
}

/** dciodvfy's error lines for an SR. */
export function dciodvfyErrors(bytes: Buffer, scratch: string, name: string): string[] {
  const file = join(scratch, `${name}.dcm`);
  writeFileSync(file, bytes);
  const verify = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  return `${verify.stdout}${verify.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
}

/** The SOP Instance UIDs the SR's evidence sequence references, and its Study Instance UID. */
export function evidenceOf(bytes: Buffer): { study: string; referenced: string[] } {
  const dataset = DicomMetaDictionary.naturalizeDataset(DicomMessage.readFile(Uint8Array.from(bytes).buffer).dict) as {
    StudyInstanceUID: string;
    CurrentRequestedProcedureEvidenceSequence?: {
      ReferencedSeriesSequence?: { ReferencedSOPSequence?: { ReferencedSOPInstanceUID: string }[] }[];
    }[];
  };
  const referenced = (dataset.CurrentRequestedProcedureEvidenceSequence ?? []).flatMap((s) =>
    (s.ReferencedSeriesSequence ?? []).flatMap((r) => (r.ReferencedSOPSequence ?? []).map((i) => i.ReferencedSOPInstanceUID)),
  );
  return { study: dataset.StudyInstanceUID, referenced };
}

/**
 * What the PACS holds after the jobs: exactly one SR per study, the one each job's result names, valid for
 * dciodvfy, filed under its study and referencing that study's instances. Returns the dciodvfy error count.
 */
export async function checkStoredReports(t: Test, orthanc: Orthanc, studies: Study[], jobs: JobView[], scratch: string): Promise<number> {
  let errors = 0;
  for (const [i, study] of studies.entries()) {
    const job = jobs[i]!;
    const srs = await srsOf(orthanc, study.study);
    t.equal(srs.length, 1, `study ${i + 1}: exactly one SR in the PACS`);
    const named = job.result?.series[0]?.report?.instance;
    t.equal(srs[0]?.uid, named, `study ${i + 1}: the SR the job's result names`);
    if (srs[0] === undefined) continue;
    const found = dciodvfyErrors(srs[0].bytes, scratch, `study-${i + 1}`);
    errors += found.length;
    t.same(found, [], `study ${i + 1}: dciodvfy reports no error`);
    const evidence = evidenceOf(srs[0].bytes);
    t.equal(evidence.study, study.study, `study ${i + 1}: filed under its study`);
    t.same([...evidence.referenced].sort(), [...study.instances].sort(), `study ${i + 1}: references its instances`);
  }
  return errors;
}

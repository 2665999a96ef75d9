// DICOMweb against a real PACS: Debian's Orthanc with its DICOMweb plugin on a loopback port (basic auth,
// temporary storage), holding a generated CT series and a few single images stored through its REST API. The
// service (demo model, real HTTP) pulls by identifier, classifies the series, answers FHIR and DICOM SRs (stored
// back and listed under the study), and fails as it should
// when the PACS refuses it or goes away. Needs `orthanc` and `orthanc-dicomweb` (Debian).
import JSONSchemaValidator from '@asymmetrik/fhir-json-schema-validator';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { capturedLogger, cosine, loadRegistry } from '../helpers/common.ts';
import { json, writePromptSets, type EmbedBody, type ErrorBody } from '../helpers/http.ts';
import { startOrthanc, requireOrthanc } from '../helpers/orthanc.ts';
import { ct, ctValues, COLUMNS, ROWS } from '../fixtures/dicom/images.ts';
import { ctSeries, identified, SERIES_STUDY_UID, SERIES_UID } from '../fixtures/dicom/ct-series.ts';

const SINGLE_STUDY = '1.2.826.0.1.3680043.8.498.5151';
const SINGLE_SERIES = `${SINGLE_STUDY}.1`;
/** A single image with its own UIDs (Orthanc keys instances by them). */
const stored = (spec: ReturnType<typeof ct>, instance: string): Buffer =>
  identified(spec, { study: SINGLE_STUDY, series: SINGLE_SERIES, instance, patientId: 'PID-SINGLE-FIXTURE' });

t.test('DICOMweb against Orthanc', async (t) => {
  const binary = requireOrthanc(t);
  if (binary === undefined) return;
  const orthanc = await startOrthanc(binary);
  t.teardown(() => orthanc.stop());

  const series = ctSeries();
  const single = stored(ct(), `${SINGLE_SERIES}.1`);
  const frames = 3;
  const multiValues = Int16Array.from(
    { length: frames * ROWS * COLUMNS },
    (_, i) => ctValues(Math.floor(i / (ROWS * COLUMNS)))[i % (ROWS * COLUMNS)]!,
  );
  const multi = stored({ ...ct([], multiValues), frames }, `${SINGLE_SERIES}.2`);
  for (const bytes of [single, multi, ...series.map((s) => s.bytes)]) await orthanc.store(bytes);

  const secrets = mkdtempSync(join(tmpdir(), 'unimed-orthanc-secrets-'));
  writeFileSync(join(secrets, 'right'), `${orthanc.password}\n`);
  writeFileSync(join(secrets, 'wrong'), 'definitely-not-the-password\n');
  const source = (file: string) => ({
    url: orthanc.dicomweb,
    auth: { type: 'basic', username: orthanc.username, password_file: join(secrets, file) },
    timeout_ms: 10_000,
  });
  const { logger, lines } = capturedLogger('info');
  const { registry, metrics, config } = await loadRegistry(
    { PROMPT_SETS: writePromptSets(), DICOMWEB_SOURCES: JSON.stringify({ orthanc: source('right'), locked: source('wrong') }) },
    { logger },
  );
  const app = await buildApp({ config, metrics, registry, logger });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await registry.close();
  });
  const post = (path: string, body: unknown, accept?: string) =>
    fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(accept === undefined ? {} : { accept }) },
      body: JSON.stringify(body),
    });
  const upload = async (bytes: Buffer, query = '') =>
    json<EmbedBody>(
      await fetch(`${url}/embed/image${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/dicom' },
        body: new Uint8Array(bytes),
      }),
    );
  const ref = (sourceName: string, instance: string, extra: Record<string, unknown> = {}) => ({
    dicomweb: { source: sourceName, study: SINGLE_STUDY, series: SINGLE_SERIES, instance, ...extra },
  });

  t.test('pull by identifier equals upload', async (t) => {
    const res = await post('/embed/image', {
      images: [ref('orthanc', `${SINGLE_SERIES}.1`), ref('orthanc', `${SINGLE_SERIES}.2`, { frame: 2 })],
    });
    const pulled = await json<EmbedBody>(res);
    t.equal(res.status, 200, JSON.stringify(pulled).slice(0, 300));
    const uploaded = await upload(single);
    const frame2 = await upload(multi, '?frame=2');
    t.ok(Math.abs(cosine(pulled.embeddings[0]!, uploaded.embeddings[0]!) - 1) < 1e-6, 'single image: cosine 1');
    t.ok(
      Math.abs(cosine(pulled.embeddings[1]!, frame2.embeddings[0]!) - 1) < 1e-6,
      "frame 2 (0-based): cosine 1 with the upload's frame=2",
    );
    t.same(pulled.preprocessing, [uploaded.preprocessing[0], frame2.preprocessing[0]], 'the same rendering');
  });

  t.test('the FHIR answer validates and derives from the study the request named', async (t) => {
    const res = await post('/classify', { image: ref('orthanc', `${SINGLE_SERIES}.1`), prompt_set: 'modality' }, 'application/fhir+json');
    const observation = (await res.json()) as { derivedFrom?: unknown };
    t.equal(res.status, 200);
    t.same(new JSONSchemaValidator().validate(observation), []);
    t.same(observation.derivedFrom, [{ type: 'ImagingStudy', identifier: { system: 'urn:dicom:uid', value: `urn:oid:${SINGLE_STUDY}` } }]);
  });

  t.test('the DICOM SR of a series classification: Orthanc accepts it and lists it under the study, once', async (t) => {
    const res = await post('/classify/series', { dicomweb: seriesRef, prompt_set: 'modality', slices: 4 }, 'application/dicom');
    t.equal(res.status, 200);
    t.equal(res.headers.get('content-type'), 'application/dicom');
    const sr = Buffer.from(await res.arrayBuffer());
    await orthanc.store(sr);
    const again = await post('/classify/series', { dicomweb: seriesRef, prompt_set: 'modality', slices: 4 }, 'application/dicom');
    await orthanc.store(Buffer.from(await again.arrayBuffer()));
    const authorization = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
    const qido = async (path: string) =>
      (await (await fetch(`${orthanc.dicomweb}${path}`, { headers: { authorization } })).json()) as Record<string, { Value?: unknown[] }>[];
    const srSeries = (await qido(`/studies/${SERIES_STUDY_UID}/series?Modality=SR`)).map((s) => s['0020000E']?.Value?.[0]);
    t.equal(srSeries.length, 1, 'one SR series under the source study');
    const instances = await qido(`/studies/${SERIES_STUDY_UID}/series/${String(srSeries[0])}/instances`);
    t.equal(instances.length, 1, 'the same evaluation twice: one instance (the same UIDs)');
    t.equal(instances[0]?.['00080016']?.Value?.[0], '1.2.840.10008.5.1.4.1.1.88.33', 'a Comprehensive SR');
  });

  interface SeriesBody {
    series: { instances: number; sampled: number };
    predictions: { label: string; probability: number }[];
    slices: { index: number; instance_number: number | null; label: string; instance_uid?: string }[];
  }
  const seriesRef = { source: 'orthanc', study: SERIES_STUDY_UID, series: SERIES_UID };

  t.test('series classification: sampled evenly in Instance Number order, and all', async (t) => {
    const sampled = await json<SeriesBody>(
      await post('/classify/series', { dicomweb: seriesRef, prompt_set: 'modality', slices: 4, include_uids: true }),
    );
    t.same(sampled.series, { instances: 48, sampled: 4 });
    t.same(
      sampled.slices.map((s) => s.instance_number),
      [1, 17, 32, 48],
      'first, last and evenly between',
    );
    t.same(
      sampled.slices.map((s) => s.instance_uid),
      [1, 17, 32, 48].map((n) => `${SERIES_UID}.${n}`),
      'UIDs when asked for',
    );
    const sum = sampled.predictions.reduce((a, p) => a + p.probability, 0);
    t.ok(Math.abs(sum - 1) < 1e-5, 'probabilities over the labels');
    t.equal(sampled.predictions[0]!.label, 'ct', 'the demo model sees CT');

    const all = await json<SeriesBody>(await post('/classify/series', { dicomweb: seriesRef, labels: ['ct', 'xray'], slices: 'all' }));
    t.same(all.series, { instances: 48, sampled: 48 });
    t.same(
      all.slices.map((s) => s.instance_number),
      series.map((s) => s.instanceNumber),
    );
    t.notOk(
      all.slices.some((s) => 'instance_uid' in s),
      'no UIDs unless asked for',
    );

    // The same instances uploaded give the same answer.
    const form = new FormData();
    for (const s of [...series].reverse())
      form.append('image', new Blob([new Uint8Array(s.bytes)], { type: 'application/dicom' }), `${s.instanceNumber}.dcm`);
    form.append('prompt_set', 'modality');
    form.append('slices', '4');
    const uploaded = await json<SeriesBody>(await fetch(url + '/classify/series', { method: 'POST', body: form }));
    t.same(
      uploaded.slices.map((s) => s.instance_number),
      [1, 17, 32, 48],
      'uploads are ordered the same way',
    );
    for (const [i, p] of uploaded.predictions.entries())
      t.ok(Math.abs(p.probability - sampled.predictions[i]!.probability) < 1e-5, `${p.label}: as pulled`);
  });

  t.test('the series embedding is the normalized mean of its slices', async (t) => {
    const body = await json<{ embedding: number[]; slices: { embedding: number[] }[] }>(
      await post('/embed/series', { dicomweb: seriesRef, slices: 3 }),
    );
    const mean = body.embedding.map((_, i) => body.slices.reduce((a, s) => a + s.embedding[i]!, 0));
    t.ok(Math.abs(cosine(mean, body.embedding) - 1) < 1e-6);
    const first = await upload(series[0]!.bytes);
    t.ok(Math.abs(cosine(body.slices[0]!.embedding, first.embeddings[0]!) - 1) < 1e-6, 'a slice embeds as its upload');
  });

  t.test('errors', async (t) => {
    const missing = await json(await post('/embed/image', { images: [ref('orthanc', `${SINGLE_SERIES}.99`)] }));
    t.equal(missing.error.code, 'dicom_not_found', JSON.stringify(missing));
    const noSeries = await json(await post('/embed/series', { dicomweb: { ...seriesRef, series: `${SERIES_UID}.404` } }));
    t.equal(noSeries.error.code, 'dicom_not_found', JSON.stringify(noSeries));
    const unknown = await post('/embed/image', { images: [ref('elsewhere', `${SINGLE_SERIES}.1`)] });
    t.equal(unknown.status, 400);
    const locked = await post('/preview', { image: ref('locked', `${SINGLE_SERIES}.1`) });
    const lockedText = await locked.text();
    t.equal(locked.status, 502);
    t.match(JSON.parse(lockedText) as ErrorBody, {
      error: { code: 'upstream_unavailable', message: /"locked" refused the service's credentials/ },
    });
    for (const secret of ['definitely-not-the-password', orthanc.password]) {
      t.notOk(lockedText.includes(secret), 'no secret in the answer');
      t.notOk(lines.join('').includes(secret), 'no secret in the logs');
    }
    t.notOk(lines.join('').includes(SINGLE_STUDY), 'no UID in the logs');
  });

  t.test('Orthanc stopped: 502 naming the source, and the service stays ready', async (t) => {
    await orthanc.stop();
    const res = await post('/classify', { image: ref('orthanc', `${SINGLE_SERIES}.1`), labels: ['ct', 'xray'] });
    const body = await json(res);
    t.equal(res.status, 502);
    t.equal(body.error.code, 'upstream_unavailable');
    t.match(body.error.message, /"orthanc" is unreachable/);
    t.equal((await fetch(url + '/readyz')).status, 200, '/readyz stays 200');
    t.match(await metrics.registry.metrics(), /unimed_dicomweb_failures_total\{source="orthanc",reason="unreachable"\} 1/);
  });
});

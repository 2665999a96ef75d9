// DICOM SR answers: /classify of a DICOM instance and /classify/series with Accept: application/dicom answer a
// Comprehensive SR of the same classification (real server, demo model). Each SR is checked in Node (dcmjs reads it
// back: modules copied from the source, references, the JSON answer's scores) and by independent tools: dciodvfy
// (dicom3tools) reports no error and pydicom reads it back, compared with the committed output of those tools in
// `npm test` and computed live in `npm run test:reference` (test/helpers/reference.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DicomDict, DicomMessage, DicomMetaDictionary, type NaturalDataset } from '../../../src/dicom-sr/dcmjs.ts';
import { DEMO, loadRegistry, PYTHON } from '../../helpers/common.ts';
import { json, listen, writePromptSets, type ClassifyBody, type ErrorBody } from '../../helpers/http.ts';
import { fromJsonBlob, jsonBlob, reference } from '../../helpers/reference.ts';
import { ct, ctValues } from '../../fixtures/dicom/images.ts';
import { identified, CT_IMAGE_STORAGE } from '../../fixtures/dicom/ct-series.ts';
import { imageDicom, type Element } from '../../fixtures/dicom/writer.ts';

// TRUST_POLICY=report: the fixture CTs are drawn patterns, unlike the demo's training images, so the default policy
// would abstain on them; this test is about the SR of an answer (test/zeroshot/trusted-answer.test.ts has abstention).
const { registry, metrics, config } = await loadRegistry({ PROMPT_SETS: writePromptSets(), TRUST_POLICY: 'report' });
const { app, url } = await listen(config, registry, metrics);
const scratch = mkdtempSync(join(tmpdir(), 'dicom-sr-test-'));
t.teardown(async () => {
  await app.close();
  await registry.close();
  rmSync(scratch, { recursive: true, force: true });
});

const STUDY = '1.2.826.0.1.3680043.8.498.77';
const SERIES = `${STUDY}.1`;
/** A CT instance with the Patient and General Study attributes a PACS has; the name in ISO_IR 100 (Latin-1). */
function instance(n: number): Buffer {
  const extra: Element[] = [
    [0x00080005, 'CS', 'ISO_IR 100'],
    [0x00080016, 'UI', CT_IMAGE_STORAGE],
    [0x00080020, 'DA', '20240131'],
    [0x00080030, 'TM', '101500'],
    [0x00080050, 'SH', 'ACC-77'],
    [0x00080090, 'PN', 'Referrer^Rita'],
    [0x00100010, 'PN', 'Müller^Jörg'],
    [0x00100030, 'DA', '19700101'],
    [0x00100040, 'CS', 'M'],
    [0x00200010, 'SH', 'S-77'],
    [0x00200013, 'IS', String(n)],
  ];
  const ids = { study: STUDY, series: SERIES, instance: `${SERIES}.${n}`, patientId: 'PID-SR-FIXTURE' };
  return identified(ct([], ctValues(n)), ids, extra);
}

const withAccept = (accept: string | undefined): Record<string, string> => (accept === undefined ? {} : { accept });
type Fields = Record<string, string | string[]>;
function append(form: FormData, fields: Fields): void {
  for (const [k, v] of Object.entries(fields)) for (const value of Array.isArray(v) ? v : [v]) form.append(k, value);
}
function classify(image: Buffer, fields: Fields, accept?: string, type = 'application/dicom'): Promise<Response> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(image)], { type }), 'i.dcm');
  append(form, fields);
  return fetch(`${url}/classify`, { method: 'POST', body: form, headers: withAccept(accept) });
}
function classifySeries(images: Buffer[], fields: Fields, accept?: string): Promise<Response> {
  const form = new FormData();
  images.forEach((image, i) => form.append('image', new Blob([new Uint8Array(image)]), `${i}.dcm`));
  append(form, fields);
  return fetch(`${url}/classify/series`, { method: 'POST', body: form, headers: withAccept(accept) });
}

async function srOf(res: Response): Promise<Buffer> {
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  if (res.headers.get('content-type') !== 'application/dicom') throw new Error(`content type ${res.headers.get('content-type')}`);
  return Buffer.from(await res.arrayBuffer());
}

const read = (sr: Buffer): NaturalDataset => DicomMetaDictionary.naturalizeDataset(DicomMessage.readFile(new Uint8Array(sr).buffer).dict);
type Item = NaturalDataset & { ContentSequence?: Item[]; ConceptNameCodeSequence?: NaturalDataset[] | NaturalDataset };
const first = <T>(v: T | T[] | undefined): T | undefined => (Array.isArray(v) ? v[0] : v);
const meaning = (item: Item): unknown => first(item.ConceptNameCodeSequence)?.CodeMeaning;
function walk(item: Item, visit: (item: Item) => void): void {
  visit(item);
  for (const child of item.ContentSequence ?? []) walk(child, visit);
}
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The SR with Content Date/Time, the probabilities and the service version set to fixed values: what two runs of one evaluation share. */
function normalized(sr: Buffer): Buffer {
  const file = DicomMessage.readFile(new Uint8Array(sr).buffer);
  const dataset = DicomMetaDictionary.naturalizeDataset(file.dict) as Item;
  dataset.ContentDate = '19000101';
  dataset.ContentTime = '000000';
  dataset.SoftwareVersions = '0'; // the service's version: a release changes no tool's verdict
  walk(dataset, (item) => {
    for (const measured of asArray(item.MeasuredValueSequence as NaturalDataset[] | undefined)) measured.NumericValue = '0';
  });
  const out = new DicomDict({ ...file.meta, '00020013': { vr: 'SH', Value: ['UNIMED'] } });
  out.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(out.write());
}

const READ_BACK = `
import json, sys, pydicom
d = pydicom.dcmread(sys.argv[1])
def items(seq):
    for i in seq:
        yield i
        yield from items(getattr(i, 'ContentSequence', []))
tree = [[i.ValueType, i.ConceptNameCodeSequence[0].CodeMeaning if 'ConceptNameCodeSequence' in i else None] for i in items(d.ContentSequence)]
refs = [s.ReferencedSOPInstanceUID for e in d.CurrentRequestedProcedureEvidenceSequence for r in e.ReferencedSeriesSequence for s in r.ReferencedSOPSequence]
print(json.dumps({'sop_class': d.SOPClassUID, 'sop_instance': d.SOPInstanceUID, 'series': d.SeriesInstanceUID,
  'study': d.StudyInstanceUID, 'patient_name': str(d.PatientName), 'patient_id': d.PatientID, 'birth_date': d.PatientBirthDate,
  'sex': d.PatientSex, 'study_date': d.StudyDate, 'accession': d.AccessionNumber, 'modality': d.Modality,
  'charset': d.SpecificCharacterSet, 'root': d.ConceptNameCodeSequence[0].CodeMeaning,
  'template': d.ContentTemplateSequence[0].TemplateIdentifier, 'evidence': refs, 'tree': tree}, ensure_ascii=False))
`;

interface ToolOutput {
  dciodvfy: { errors: string[]; warnings: string[] };
  pydicom: Record<string, unknown> & { tree: [string, string | null][]; evidence: string[] };
}

/** dciodvfy's errors and warnings and pydicom's read-back of the SR (committed, or live in test:reference). */
function checkedByTools(sr: Buffer, name: string): ToolOutput {
  const blobs = reference({ kind: 'output', what: `dciodvfy + pydicom read-back of the ${name} SR`, key: normalized(sr) }, () => {
    const file = join(scratch, `${name}.dcm`);
    writeFileSync(file, sr);
    const verify = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    const lines = `${verify.stdout}${verify.stderr}`.split('\n').filter((l) => l.trim() !== '');
    const python = spawnSync(PYTHON, ['-c', READ_BACK, file], { encoding: 'utf8' });
    if (python.status !== 0) throw new Error(`pydicom: ${python.stderr}`);
    return {
      dciodvfy: jsonBlob({ errors: lines.filter((l) => l.startsWith('Error')), warnings: lines.filter((l) => l.startsWith('Warning')) }),
      pydicom: Buffer.from(python.stdout),
    };
  });
  return { dciodvfy: fromJsonBlob(blobs.dciodvfy!), pydicom: fromJsonBlob(blobs.pydicom!) };
}

t.test('/classify of a DICOM instance answers an SR of the same classification, filed under its study', async (t) => {
  const source = instance(1);
  const fields = { prompt_set: 'modality' };
  const sr = await srOf(await classify(source, fields, 'application/dicom'));
  const plain = await json<ClassifyBody>(await classify(source, fields));
  const d = read(sr) as Item;
  t.equal(d.SOPClassUID, '1.2.840.10008.5.1.4.1.1.88.33', 'Comprehensive SR');
  t.equal(d.Modality, 'SR');
  t.equal(d.StudyInstanceUID, STUDY, 'filed under the source study');
  t.same(d.PatientName, [{ Alphabetic: 'Müller^Jörg' }], 'the patient name, read as Latin-1 and written as UTF-8');
  t.equal(d.PatientID, 'PID-SR-FIXTURE');
  t.equal(d.AccessionNumber, 'ACC-77');
  t.match(String(d.SOPInstanceUID), /^2\.25\.[1-9][0-9]{0,38}$/);
  t.not(d.SeriesInstanceUID, d.SOPInstanceUID);

  let top: unknown;
  const probabilities = new Map<unknown, number>();
  const sources: unknown[] = [];
  walk(d, (item) => {
    if (item.ValueType === 'CODE' && meaning(item) === 'modality') top = first(item.ConceptCodeSequence as NaturalDataset[])?.CodeMeaning;
    if (item.ValueType === 'NUM')
      probabilities.set(meaning(item), Number(first(item.MeasuredValueSequence as NaturalDataset[])?.NumericValue));
    if (item.ValueType === 'IMAGE' && meaning(item) === 'Source')
      sources.push(first(item.ReferencedSOPSequence as NaturalDataset[])?.ReferencedSOPInstanceUID);
  });
  t.equal(top, plain.predictions[0]!.label, "the JSON answer's top label is the finding");
  t.equal(probabilities.size, plain.predictions.length, 'every label has its probability');
  for (const p of plain.predictions)
    t.ok(Math.abs(probabilities.get(p.label)! - p.probability) < 2e-6, `${p.label}: the JSON answer's probability`);
  t.same(sources, [`${SERIES}.1`], 'the evaluated instance is the source');

  const tools = checkedByTools(sr, 'classify');
  t.same(tools.dciodvfy.errors, [], 'dciodvfy reports no error');
  t.comment(`dciodvfy warnings: ${tools.dciodvfy.warnings.length} (${[...new Set(tools.dciodvfy.warnings)].join('; ')})`);
  t.equal(tools.pydicom.sop_instance, d.SOPInstanceUID, 'pydicom reads it back');
  t.equal(tools.pydicom.patient_name, 'Müller^Jörg');
  t.equal(tools.pydicom.study_date, '20240131');
  t.equal(tools.pydicom.template, '1500');
  t.same(tools.pydicom.evidence, [`${SERIES}.1`]);
  t.ok(
    tools.pydicom.tree.some(([type, name]) => type === 'CODE' && name === 'modality'),
    'the qualitative evaluation',
  );
});

t.test('one evaluation, one SR: the same request gives the same UIDs and bytes but for Content Date/Time', async (t) => {
  const source = instance(2);
  const a = await srOf(await classify(source, { labels: ['ct', 'xray'] }, 'application/dicom'));
  const b = await srOf(await classify(source, { labels: ['ct', 'xray'] }, 'application/dicom'));
  t.same(normalized(a), normalized(b), 'identical once Content Date/Time (and float noise) are set aside');
  t.equal(read(a).SOPInstanceUID, read(b).SOPInstanceUID);
  const other = read(await srOf(await classify(source, { labels: ['ct', 'mri'] }, 'application/dicom')));
  t.not(other.SOPInstanceUID, read(a).SOPInstanceUID, 'other labels: another SR');
  t.not(other.SeriesInstanceUID, read(a).SeriesInstanceUID);
  const windowed = read(await srOf(await classify(source, { labels: ['ct', 'xray'], window: 'ct-lung' }, 'application/dicom')));
  t.not(windowed.SOPInstanceUID, read(a).SOPInstanceUID, 'another rendering: another SR');
});

t.test('/classify/series answers one SR referencing every evaluated slice', async (t) => {
  const instances = [1, 2, 3, 4, 5].map(instance);
  const fields = { prompt_set: 'modality', slices: '3' };
  const sr = await srOf(await classifySeries(instances, fields, 'application/dicom'));
  const plain = await json<ClassifyBody & { slices: { index: number }[] }>(
    await classifySeries(instances, { ...fields, include_uids: 'true' }),
  );
  const d = read(sr) as Item;
  t.equal(d.StudyInstanceUID, STUDY);
  const evaluated = plain.slices.map((s) => `${SERIES}.${s.index + 1}`);
  const sources: unknown[] = [];
  walk(d, (item) => {
    if (item.ValueType === 'IMAGE' && meaning(item) === 'Source')
      sources.push(first(item.ReferencedSOPSequence as NaturalDataset[])?.ReferencedSOPInstanceUID);
  });
  t.same(sources, evaluated, 'the sampled slices, in slice order');
  const again = await srOf(await classifySeries([...instances].reverse(), fields, 'application/dicom'));
  t.equal(read(again).SOPInstanceUID, d.SOPInstanceUID, 'the same instances uploaded in another order: the same SR');

  const tools = checkedByTools(sr, 'series');
  t.same(tools.dciodvfy.errors, [], 'dciodvfy reports no error');
  t.comment(`dciodvfy warnings: ${tools.dciodvfy.warnings.length} (${[...new Set(tools.dciodvfy.warnings)].join('; ')})`);
  t.same(tools.pydicom.evidence, evaluated, 'pydicom reads the evidence back');
  t.equal(tools.pydicom.study, STUDY);
});

t.test('an input that cannot have an SR is a 406 with a clear message, before any inference', async (t) => {
  const png = readFileSync(join(DEMO, 'golden_resized.png'));
  const res = await classify(png, { prompt_set: 'modality' }, 'application/dicom', 'image/png');
  t.equal(res.status, 406);
  const body = await json<ErrorBody>(res);
  t.equal(body.error.code, 'not_acceptable');
  t.match(body.error.message, /only of a DICOM input/);

  const noStudy = imageDicom(ct());
  const res2 = await classify(noStudy, { prompt_set: 'modality' }, 'application/dicom');
  t.equal(res2.status, 406);
  t.match((await json<ErrorBody>(res2)).error.message, /no Study Instance UID/);
  const other = identified(ct(), { study: `${STUDY}.9`, series: `${STUDY}.9.1`, instance: `${STUDY}.9.1.1`, patientId: 'P' }, [
    [0x00080016, 'UI', CT_IMAGE_STORAGE],
  ]);
  const res3 = await classifySeries([instance(1), other], { prompt_set: 'modality' }, 'application/dicom');
  t.equal(res3.status, 406);
  t.match((await json<ErrorBody>(res3)).error.message, /several studies/);
});

t.test('Accept decides: JSON stays the default, DICOM when preferred', async (t) => {
  for (const [accept, type] of [
    [undefined, 'application/json'],
    ['*/*', 'application/json'],
    ['application/json, application/dicom;q=0.5', 'application/json'],
    ['application/dicom;q=0', 'application/json'],
    ['application/json;q=0.5, application/dicom', 'application/dicom'],
    ['application/fhir+json;q=0.9, application/dicom', 'application/dicom'],
    ['application/fhir+json, application/dicom;q=0.5', 'application/fhir+json'],
  ] as const) {
    const res = await classify(instance(3), { prompt_set: 'modality' }, accept);
    t.equal(res.headers.get('content-type')?.split(';')[0], type, `Accept ${accept ?? '(none)'}`);
    await res.arrayBuffer();
  }
});

// The SR builder without HTTP: derived UIDs (format, determinism, what changes them, issue 23's optional parts),
// the content tree's optional parts (abstention, prediction set, frames), and labels as codes. dcmjs reads back.
import t from 'tap';
import { privateCode } from '../../src/dicom-sr/codes.ts';
import { DicomMessage, DicomMetaDictionary, type NaturalDataset } from '../../src/dicom-sr/dcmjs.ts';
import { classificationReport, type ReportInput } from '../../src/dicom-sr/report.ts';
import { readSourceInstance } from '../../src/dicom-sr/source.ts';
import { derivedUid, reportUids, type EvaluationKey } from '../../src/dicom-sr/uids.ts';
import { ctSeries } from '../fixtures/dicom/ct-series.ts';

const [one, two] = ctSeries(2, 16).map((s) => readSourceInstance(s.bytes));
const base: ReportInput = {
  model: { id: 'm', sha256: 'a'.repeat(64) },
  predictions: [
    { label: 'ct', probability: 0.75 },
    { label: 'xray', probability: 0.25 },
  ],
  instances: [{ source: one! }, { source: two! }],
  classes: { labels: [{ name: 'ct', text: 'ct' }], templates: ['{}'] },
  serviceVersion: '0.0.0',
  createdAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6)),
};
const read = (sr: Buffer): NaturalDataset => DicomMetaDictionary.naturalizeDataset(DicomMessage.readFile(new Uint8Array(sr).buffer).dict);
type Item = NaturalDataset & { ContentSequence?: Item[] };
function items(d: Item): Item[] {
  return [d, ...(d.ContentSequence ?? []).flatMap(items)];
}
const name = (i: Item): unknown => (i.ConceptNameCodeSequence as NaturalDataset[] | undefined)?.[0]?.CodeMeaning;
const value = (i: Item): unknown => (i.ConceptCodeSequence as NaturalDataset[] | undefined)?.[0]?.CodeMeaning;

t.test('UIDs: 2.25 UUIDv8 decimals, fixed for one key, changed by every determining part', (t) => {
  const key: EvaluationKey = {
    instances: [{ uid: '1.2.3' }, { uid: '1.2.4' }],
    modelSha256: 'a',
    classes: { promptSet: { name: 'p', version: 'v' } },
  };
  const uids = reportUids('9.9', key);
  for (const uid of [uids.series, uids.instance, uids.evaluation, uids.device]) {
    t.match(uid, /^2\.25\.[1-9]\d*$/);
    t.ok(uid.length <= 64);
    const hex = BigInt(uid.slice(5)).toString(16).padStart(32, '0');
    t.equal(hex[12], '8', 'version 8');
    t.ok('89ab'.includes(hex[16]!), 'variant 10');
  }
  t.equal(new Set([uids.series, uids.instance, uids.evaluation]).size, 3, 'one salt each');
  t.same(reportUids('9.9', { ...key, instances: [...key.instances].reverse() }), uids, 'the order of the instances does not count');
  const changed: Partial<EvaluationKey>[] = [
    { instances: [{ uid: '1.2.3' }] },
    { instances: [{ uid: '1.2.3', frame: 2 }, { uid: '1.2.4' }] },
    { modelSha256: 'b' },
    { classes: { promptSet: { name: 'p', version: 'w' } } },
    { rendering: { window: 'ct-lung' } },
    { calibrationId: 'c1' },
    { policy: 'lac' },
    { coverage: 0.9 },
  ];
  for (const change of changed) t.not(reportUids('9.9', { ...key, ...change }).instance, uids.instance, JSON.stringify(change));
  t.equal(reportUids('9.9', { ...key, calibrationId: undefined }).instance, uids.instance, 'an absent optional part is left out');
  t.not(reportUids('9.8', key).instance, uids.instance, 'another study');
  t.equal(uids.device, derivedUid('model', { modelSha256: 'a' }), 'the device: the model alone');
  t.end();
});

t.test('one input, one SR: byte-identical when made at the same time', (t) => {
  t.same(classificationReport(base), classificationReport(base));
  const d = read(classificationReport(base));
  t.equal(d.ContentDate, '20250102');
  t.equal(d.ContentTime, '030405.006');
  t.end();
});

t.test("issue 23's parts: abstention writes Undetermined, the prediction set its members, the rest algorithm parameters", (t) => {
  const plain = items(read(classificationReport(base)));
  t.same(plain.filter((i) => name(i) === 'Zero-shot classification').map(value), ['ct'], 'the top label');
  t.equal(plain.filter((i) => name(i) === 'Abstained' || name(i) === 'Prediction set member').length, 0, 'nothing of issue 23 when absent');
  const input = {
    ...base,
    abstention: { abstained: true },
    predictionSet: ['ct', 'xray'],
    calibrationId: 'cal-7',
    policy: 'lac',
    coverage: 0.9,
  };
  const all = items(read(classificationReport(input)));
  t.same(all.filter((i) => name(i) === 'Zero-shot classification').map(value), ['Undetermined']);
  t.same(all.filter((i) => name(i) === 'Abstained').map(value), ['Yes']);
  t.same(all.filter((i) => name(i) === 'Prediction set member').map(value), ['ct', 'xray']);
  t.same(
    all.filter((i) => name(i) === 'Algorithm Parameters').map((i) => i.TextValue),
    ['classes: inline labels and templates', 'calibration: cal-7', 'policy: lac', 'coverage: 0.9'],
  );
  t.not(read(classificationReport(input)).SOPInstanceUID, read(classificationReport(base)).SOPInstanceUID);
  t.end();
});

t.test('a frame of a multi-frame instance is referenced by number', (t) => {
  const d = read(classificationReport({ ...base, instances: [{ source: one!, frame: 3 }] })) as Item;
  const images = items(d).filter((i) => i.ValueType === 'IMAGE');
  t.ok(images.length > 0);
  for (const i of images) t.equal((i.ReferencedSOPSequence as NaturalDataset[])[0]!.ReferencedFrameNumber, 3);
  t.end();
});

t.test('labels as codes of 99UNIMED', (t) => {
  t.same(privateCode('ct'), { CodeValue: 'ct', CodingSchemeDesignator: '99UNIMED', CodeMeaning: 'ct' });
  const long = 'a photograph of the fundus of the eye';
  t.same(privateCode(long), { LongCodeValue: long, CodingSchemeDesignator: '99UNIMED', CodeMeaning: long });
  const slash = privateCode('a\\b');
  t.match(slash.CodeValue, /^h[0-9a-f]{15}$/);
  t.equal(slash.CodeMeaning, 'a/b');
  t.equal(privateCode('x'.repeat(100)).CodeMeaning.length, 64);
  t.end();
});

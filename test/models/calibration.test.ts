// A model directory's calibration.json: checked against its sha256 sidecar and against the model it was made for;
// any failed check refuses to load (never silently ignored), end to end through the registry on a copy of the demo.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { forServedPromptSets, readCalibration, type CalibratedModel } from '../../src/models/calibration.ts';
import { DEMO, loadRegistry } from '../helpers/common.ts';

const manifest = JSON.parse(readFileSync(join(DEMO, 'model.json'), 'utf8')) as {
  embed_dim: number;
  files: Record<string, string>;
  image: { file: string };
  text: { file: string };
};
const original = readFileSync(join(DEMO, 'calibration.json'));
const demoCalibration = JSON.parse(original.toString('utf8')) as { model: { sha256: string } };
const MODEL: CalibratedModel = {
  sha256: demoCalibration.model.sha256,
  embedDim: manifest.embed_dim,
  imageEncoderSha256: manifest.files[manifest.image.file]!,
  textEncoderSha256: manifest.files[manifest.text.file]!,
};
const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** A directory holding `json` as calibration.json and a sidecar (of `json` itself unless told otherwise). */
function directory(t: Test, json: Buffer | string, sidecar: string | null = `${sha256(json)}  calibration.json\n`): string {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-calibration-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'calibration.json'), json);
  if (sidecar !== null) writeFileSync(join(dir, 'calibration.json.sha256'), sidecar);
  return dir;
}
const edited = (edit: (doc: Record<string, unknown>) => void): string => {
  const doc = JSON.parse(original.toString('utf8')) as Record<string, unknown>;
  edit(doc);
  return JSON.stringify(doc);
};

t.test("the demo's calibration loads: its id is its file's sha256", async (t) => {
  const calibration = await readCalibration(DEMO, MODEL);
  t.ok(calibration);
  t.equal(calibration?.id, sha256(original));
  t.same([...(calibration?.promptSets.keys() ?? [])], ['modality', 'finding']);
  t.equal(calibration?.ood.means[0]?.length, manifest.embed_dim);
  t.equal(calibration?.ood.precision.length, manifest.embed_dim ** 2);
  t.equal(await readCalibration(directory(t, original), MODEL).then((c) => c?.id), sha256(original), 'a copy with its sidecar too');
});

t.test('no calibration.json: none, and no error', async (t) => {
  const dir = directory(t, original);
  unlinkSync(join(dir, 'calibration.json'));
  await t.rejects(readCalibration(dir, MODEL), /is missing while calibration.json.sha256 is there/, 'a sidecar alone is refused');
  unlinkSync(join(dir, 'calibration.json.sha256'));
  t.equal(await readCalibration(dir, MODEL), undefined);
});

t.test('a changed byte, a missing or malformed sidecar: refused, naming the check', async (t) => {
  const flipped = Buffer.from(original);
  const at = flipped.indexOf('"threshold"') + 13;
  flipped[at] = flipped[at] === 0x31 ? 0x32 : 0x31;
  await t.rejects(readCalibration(directory(t, flipped, `${sha256(original)}  calibration.json\n`), MODEL), /the file changed since it was made/);
  await t.rejects(readCalibration(directory(t, original, null), MODEL), /needs calibration.json.sha256 beside it/);
  await t.rejects(readCalibration(directory(t, original, 'not a digest\n'), MODEL), /needs calibration.json.sha256 beside it/);
});

t.test('a file that does not fit the model: refused', async (t) => {
  const cases: [string, RegExp][] = [
    [edited((d) => ((d.model as Record<string, unknown>).sha256 = '0'.repeat(64))), /was made for another model/],
    [edited((d) => ((d.model as Record<string, unknown>).embed_dim = 32)), /model.embed_dim is 32/],
    [edited((d) => ((d.model as Record<string, unknown>).image_encoder_sha256 = '1'.repeat(64))), /another image encoder/],
    [edited((d) => ((d.ood as Record<string, unknown>).method = 'energy')), /ood.method "energy"/],
    [edited((d) => ((d.ood as Record<string, unknown>).precision = [[1]])), /ood.precision must be/],
    [edited((d) => ((d.temperature as Record<string, unknown>).value = -1)), /temperature.value must be a positive number/],
    [
      edited((d) => {
        const set = (d.prompt_sets as Record<string, { conformal: { sorted_scores: number[] } }>).modality!;
        set.conformal.sorted_scores = [...set.conformal.sorted_scores].reverse();
      }),
      /sorted_scores must ascend within \[0, 1\]/,
    ],
    [edited((d) => (d.format_version = 2)), /format_version 1/],
    ['{not json', /is not valid JSON/],
  ];
  for (const [json, message] of cases) await t.rejects(readCalibration(directory(t, json), MODEL), message);
});

t.test('a calibrated prompt set served with another version or labels keeps no calibration of its own', async (t) => {
  const calibration = (await readCalibration(DEMO, MODEL))!;
  const modality = calibration.promptSets.get('modality')!;
  const finding = calibration.promptSets.get('finding')!;
  const served = new Map([
    ['modality', { version: modality.version, labels: modality.labels }],
    ['finding', { version: 'replaced', labels: finding.labels }],
  ]);
  const applied = forServedPromptSets(calibration, served);
  t.same(applied.stale, ['finding']);
  t.same([...applied.calibration.promptSets.keys()], ['modality']);
  t.equal(applied.calibration.id, calibration.id, 'the rest of the file still applies');
  const reordered = new Map([['modality', { version: modality.version, labels: [...modality.labels].reverse() }]]);
  t.same(forServedPromptSets(calibration, reordered).stale, ['modality', 'finding'], 'labels in another order: stale too');
});

t.test('end to end: a model directory whose calibration.json changed does not load', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-demo-copy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(DEMO, dir, { recursive: true });
  writeFileSync(join(dir, 'calibration.json'), edited((d) => ((d.ood as Record<string, unknown>).threshold = 1e9)));
  await t.rejects(loadRegistry({ MODEL_DIRS: dir }), /cannot be served: calibration.json: its sha256 is [0-9a-f]{64}, calibration.json.sha256 says/);
});

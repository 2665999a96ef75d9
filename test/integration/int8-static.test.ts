// The demo model quantized both ways by the training toolkit (`training.quantize --method dynamic|static`, into a
// temporary folder) loads in the service through onnxruntime-node: every file's sha256 and the golden outputs
// within model.json's tolerances (the load check), then embeddings stay close to fp32's. The static directory
// records a calibration set that is not the held-out one. Needs /usr/bin/python3 with torch and onnx.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { cosine, DEMO, loadRegistry, PYTHON, ROOT } from '../helpers/common.ts';
import { requireTool } from '../helpers/tools.ts';

t.setTimeout(600_000);

const INSTALL = 'apt-get install python3-torch python3-onnx python3-numpy python3-pil';

/** A deterministic pseudo-random image tensor (values in the normalized range). */
function image(seed: number, plane: number): Float32Array {
  const out = new Float32Array(plane);
  let x = seed * 2654435761;
  for (let i = 0; i < plane; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x / 0xffffffff) * 4 - 2;
  }
  return out;
}

t.test('dynamic and static int8 copies of the demo pass the service load check and stay close to fp32', async (t) => {
  if (!requireTool(t, PYTHON, INSTALL)) return;
  if (spawnSync(PYTHON, ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status !== 0) {
    if (process.env.CI === 'true') t.fail(`${PYTHON} cannot import torch and onnx (${INSTALL})`);
    else t.plan(0, `${PYTHON} cannot import torch and onnx (${INSTALL})`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'unimed-int8-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dirs = { dynamic: join(dir, 'dynamic'), static: join(dir, 'static') };
  for (const [method, out] of Object.entries(dirs))
    await promisify(execFile)(PYTHON, ['-m', 'training.quantize', '--from-dir', DEMO, '--out', out, '--method', method], { cwd: ROOT });

  const manifest = JSON.parse(readFileSync(join(dirs.static, 'model.json'), 'utf8')) as {
    id: string;
    quantization: { calibration: { seed: number; images: number; disjoint_from: { held_out_seeds: number[] } } };
  };
  const cal = manifest.quantization.calibration;
  t.equal(manifest.id, 'unimed-demo-int8-static');
  t.ok(cal.images > 0 && !cal.disjoint_from.held_out_seeds.includes(cal.seed), `calibration seed ${cal.seed}`);
  t.ok(cal.disjoint_from.held_out_seeds.includes(777), 'the demo held-out seed is named as excluded');

  // ModelRegistry.load refuses a model whose golden outputs miss model.json's tolerances: loading is the check
  const { registry } = await loadRegistry({ MODEL_DIRS: [DEMO, dirs.dynamic, dirs.static].join(',') });
  t.teardown(() => registry.close());
  const fp32 = registry.get();
  const plane = 3 * fp32.imageSpec.size * fp32.imageSpec.size;
  const pixels = [1, 2, 3].map((s) => image(s, plane));
  const texts = ['a ct image.', 'a medical fundus image.', 'an mri of the brain with a small lesion'];
  const want = await fp32.embedImages(pixels);
  const wantText = await fp32.embedTexts(texts);
  for (const id of ['unimed-demo-int8', 'unimed-demo-int8-static']) {
    const model = registry.get(id);
    t.equal(model.id, id, `${id} loaded (sha256 and golden check passed)`);
    const got = await model.embedImages(pixels);
    const gotText = await model.embedTexts(texts);
    const worst = Math.min(...got.map((g, i) => cosine(g, want[i]!)), ...gotText.map((g, i) => cosine(g, wantText[i]!)));
    t.ok(worst > 0.999 && worst < 1 - 1e-7, `${id}: cosine to fp32 ${worst} (close, and really quantized)`);
  }
});

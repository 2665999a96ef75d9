// `unimed embed` against the demo model served on a free port, on an archive of synthetic PNGs (the training
// toolkit's generator), the DICOM and TIFF examples, a multi-frame DICOM (one row per frame) and a broken file:
// the files it writes (read back by numpy, compared with the service's own answers), a run killed with SIGKILL
// and resumed (also inside the frames of the multi-frame object), and a resume refused against another model. Needs /usr/bin/python3 with numpy and Pillow.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DEMO, loadRegistry, maxAbsDiff, PYTHON, until } from '../helpers/common.ts';
import {
  expectedRows,
  makeArchive,
  numpyLoad,
  PYTHON_INSTALL,
  readText,
  runCli,
  sameOutputs,
  serveDemo,
  startCli,
} from '../helpers/cli.ts';
import { listen } from '../helpers/http.ts';
import { requireTool } from '../helpers/tools.ts';

// A service, Python's generator and several CLI runs: more than the suites' default 120 s on a busy machine.
t.setTimeout(600_000);

/**
 * A real HTTP hop in front of the service that forwards `pass` requests to /embed/image and then holds every
 * later one unanswered (so that a run can be killed at a known point).
 */
async function holdingProxy(target: string, pass: number): Promise<{ url: string; held(): number; close(): void }> {
  let embeds = 0;
  let held = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/embed/image') === true && ++embeds > pass) {
        held++;
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)),
      ) as Record<string, string>;
      void fetch(target + req.url, { method: req.method!, headers, ...(req.method === 'GET' ? {} : { body: Buffer.concat(chunks) }) }).then(
        async (answer) => {
          const body = Buffer.from(await answer.arrayBuffer());
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? '',
            'x-model-sha256': answer.headers.get('x-model-sha256') ?? '',
          });
          res.end(body);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    held: () => held,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A copy of the demo model whose model card differs: the same weights, another model sha256. */
function otherModel(dir: string): string {
  cpSync(DEMO, dir, { recursive: true });
  writeFileSync(join(dir, 'MODEL_CARD.md'), readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8') + '\nA copy, for a test.\n');
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { files: Record<string, string> };
  manifest.files['MODEL_CARD.md'] = createHash('sha256')
    .update(readFileSync(join(dir, 'MODEL_CARD.md')))
    .digest('hex');
  writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest, null, 2));
  // The demo's calibration was made for the demo's sha256: a model with another one would refuse to load with it.
  rmSync(join(dir, 'calibration.json'));
  rmSync(join(dir, 'calibration.json.sha256'));
  return dir;
}

t.test('unimed embed: one run, killed and resumed, refused against another model', async (t) => {
  if (!requireTool(t, PYTHON, PYTHON_INSTALL)) return;
  const work = mkdtempSync(join(tmpdir(), 'unimed-cli-embed-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const archive = await makeArchive(work);
  const { url } = await serveDemo(t);
  const env = { UNIMED_URL: url };
  const full = join(work, 'full');

  await t.test('one run: index.csv, embeddings.npy as numpy reads it, meta.json, errors.csv', async (t) => {
    const run = await runCli(['embed', '--input', archive.root, '--out', full, '--batch-size', '4'], env);
    t.equal(run.code, 0, run.stderr);
    t.match(run.stderr, 'skipped 1 file(s) that are not images or are hidden: notes.txt');
    t.match(run.stderr, 'failed: zz-broken.png: 422 undecodable: ', 'a failed image is reported by path');
    t.notMatch(run.stderr, 'failed: volumes/ct-volume.dcm', 'the multi-frame DICOM does not fail');
    const embedded = expectedRows(archive);
    t.equal(
      readText(full, 'index.csv'),
      ['path,frame', ...embedded.map((r) => `${r.path},${r.frame ?? ''}`)].join('\n') + '\n',
      'index.csv: every image that did not fail, in sorted path order, the multi-frame DICOM once per frame',
    );
    t.match(readText(full, 'errors.csv'), /^path,status,code,message\nzz-broken\.png,422,undecodable,.*\n$/);
    const meta = JSON.parse(readText(full, 'meta.json')) as Record<string, unknown>;
    const models = (await (await fetch(url + '/models')).json()) as { models: { id: string; sha256: string; embed_dim: number }[] };
    t.same(meta, { model: 'unimed-demo', model_sha256: models.models[0]!.sha256, dim: 64, normalisation: 'l2', dtype: 'float32' });
    const npy = await numpyLoad(join(full, 'embeddings.npy'));
    t.same(npy.shape, [embedded.length, 64]);
    t.equal(npy.dtype, 'float32');
    for (const [i, { path, frame }] of embedded.entries()) {
      const form = new FormData();
      form.append('image', new Blob([readFileSync(join(archive.root, path))]), path);
      if (frame !== undefined) form.append('frame', String(frame));
      const answer = (await (await fetch(url + '/embed/image', { method: 'POST', body: form })).json()) as { embeddings: number[][] };
      if (maxAbsDiff(npy.rows[i]!, answer.embeddings[0]!) > 1e-5) t.fail(`row ${i} is not ${path}'s embedding (frame ${frame})`);
    }
    t.pass(`every row i is the service's embedding of line i of index.csv, frames included (${embedded.length} rows)`);
    t.ok(maxAbsDiff(npy.rows.at(-1)!, npy.rows.at(-2)!) > 1e-4, 'two frames of the volume are two different rows');
  });

  await t.test('killed with SIGKILL mid-run, then rerun: the same output as one uninterrupted run', async (t) => {
    const out = join(work, 'resumed');
    const proxy = await holdingProxy(url, 3);
    t.teardown(() => proxy.close());
    const running = startCli(['embed', '--input', archive.root, '--out', out, '--batch-size', '4', '--concurrency', '1'], {
      UNIMED_URL: proxy.url,
    });
    // With one request in flight, the fourth request is sent only after the third batch is in the journal.
    await until('the fourth batch to be held', () => proxy.held() === 1, 30_000);
    running.kill('SIGKILL');
    const killed = await running.exited;
    t.equal(killed.signal, 'SIGKILL');
    t.notOk(existsSync(join(out, 'index.csv')), 'the killed run wrote no index.csv');
    const journal = join(out, '.unimed-embed/journal.bin');
    truncateSync(journal, statSync(journal).size - 5); // and its last record torn, as a kill inside a write leaves it
    const rerun = await runCli(['embed', '--input', archive.root, '--out', out, '--batch-size', '4'], env);
    t.equal(rerun.code, 0, rerun.stderr);
    t.match(
      rerun.stderr,
      `resuming: 11 of ${archive.images.length} images already embedded`,
      'three batches of 4 were journalled, the torn last row is embedded again',
    );
    t.notOk(existsSync(join(out, '.unimed-embed')), 'the journal is gone once the output is written');
    await sameOutputs(t, out, full, 'resumed');
    const again = await runCli(['embed', '--input', archive.root, '--out', out], env);
    t.equal(again.code, 0);
    t.match(
      again.stderr,
      `resuming: ${archive.images.length - archive.failing.length} of ${archive.images.length} images already embedded`,
      'a rerun of a finished output embeds only the failed images again',
    );
    await sameOutputs(t, out, full, 'rerun of a finished output');
  });

  await t.test('killed inside the frames of the multi-frame DICOM, then rerun: its frames resume, the output is the same', async (t) => {
    const out = join(work, 'resumed-frames');
    // Sorted, the volume is in the last batch of 4 (with the broken PNG): 6 batches pass, then the 7th fails, the
    // volume alone fails (no frame), and its frames 0-4 pass; frame 5 is held.
    const proxy = await holdingProxy(url, 6 + 1 + 1 + 5);
    t.teardown(() => proxy.close());
    const running = startCli(['embed', '--input', archive.root, '--out', out, '--batch-size', '4', '--concurrency', '1'], {
      UNIMED_URL: proxy.url,
    });
    await until('frame 5 to be held', () => proxy.held() === 1, 60_000);
    running.kill('SIGKILL');
    t.equal((await running.exited).signal, 'SIGKILL');
    const rerun = await runCli(['embed', '--input', archive.root, '--out', out, '--batch-size', '4'], env);
    t.equal(rerun.code, 0, rerun.stderr);
    await sameOutputs(t, out, full, 'resumed inside the frames');
  });

  await t.test('refuses to resume against a model with another sha256', async (t) => {
    const { registry, metrics, config } = await loadRegistry({ MODEL_DIRS: otherModel(join(work, 'other-model')) });
    const other = await listen(config, registry, metrics);
    t.teardown(async () => {
      await other.app.close();
      await registry.close();
    });
    const before = readText(full, 'index.csv');
    const run = await runCli(['embed', '--input', archive.root, '--out', full], { UNIMED_URL: other.url });
    t.equal(run.code, 1);
    t.match(
      run.stderr,
      /refusing to resume: this output was embedded with model unimed-demo sha256 [0-9a-f]{64}, the service now serves unimed-demo sha256 [0-9a-f]{64}/,
    );
    t.equal(readText(full, 'index.csv'), before, 'and leaves the output as it was');
  });
});

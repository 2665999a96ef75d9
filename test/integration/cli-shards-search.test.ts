// `unimed embed --shard I/N`, `unimed embed merge` and `unimed search` against the demo model served on a free
// port: shards merged equal one run; an image finds itself at rank 1. Needs /usr/bin/python3 with numpy and
// Pillow.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PYTHON } from '../helpers/common.ts';
import { makeArchive, PYTHON_INSTALL, readText, runCli, sameOutputs, serveDemo } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

// A service, Python's generator and several CLI runs: more than the suites' default 120 s on a busy machine.
t.setTimeout(600_000);

t.test('unimed embed --shard, merge, search', async (t) => {
  if (!requireTool(t, PYTHON, PYTHON_INSTALL)) return;
  const work = mkdtempSync(join(tmpdir(), 'unimed-cli-shards-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const archive = await makeArchive(work);
  const { url } = await serveDemo(t);
  const env = { UNIMED_URL: url };
  const full = join(work, 'full');
  const single = await runCli(['embed', '--input', archive.root, '--out', full, '--batch-size', '4'], env);
  t.equal(single.code, 0, 'a single run over everything');

  await t.test('--shard I/N: item i goes to shard i mod N; merged shards equal one run', async (t) => {
    const shards = [0, 1, 2].map((i) => join(work, `shard-${i}`));
    for (const [i, dir] of shards.entries()) {
      const run = await runCli(['embed', '--input', archive.root, '--out', dir, '--shard', `${i}/3`], env);
      t.equal(run.code, 0, run.stderr);
      const mine = archive.images.filter((_, k) => k % 3 === i);
      t.same(
        [
          // index.csv: path,frame (a multi-frame object once per frame)
          ...new Set(
            readText(dir, 'index.csv')
              .trim()
              .split('\n')
              .slice(1)
              .map((l) => l.split(',')[0]),
          ),
          ...readText(dir, 'errors.csv')
            .trim()
            .split('\n')
            .slice(1)
            .map((l) => l.split(',')[0]),
        ].sort(),
        mine,
        `shard ${i}/3 holds items i with i mod 3 = ${i}`,
      );
      t.same((JSON.parse(readText(dir, 'meta.json')) as { shard: unknown }).shard, { index: i, count: 3 });
    }
    const merged = join(work, 'merged');
    const merge = await runCli(['embed', 'merge', merged, shards[2]!, shards[0]!, shards[1]!]);
    t.equal(merge.code, 0, merge.stderr);
    await sameOutputs(t, merged, full, 'merged');
    const missing = await runCli(['embed', 'merge', join(work, 'merged-2'), shards[0]!, shards[1]!]);
    t.equal(missing.code, 1);
    t.match(missing.stderr, 'shards of 3: missing 2');
  });

  await t.test('search: an image finds itself at rank 1; a text query; --json', async (t) => {
    const image = await runCli(['search', '--index', full, '--image', join(archive.root, 'synthetic/ct/00002.png'), '--top-k', '3'], env);
    t.equal(image.code, 0, image.stderr);
    const lines = image.stdout.trim().split('\n');
    t.equal(lines.length, 3);
    t.match(lines[0], /^synthetic\/ct\/00002\.png\t(1\.000000|0\.99999\d)$/, 'the image itself, cosine 1, first');
    const scores = lines.map((l) => Number(l.split('\t')[1]));
    t.same(
      scores,
      [...scores].sort((a, b) => b - a),
      'best first',
    );
    const text = await runCli(['search', '--index', full, '--text', 'a chest x-ray', '--json', '--top-k', '2'], env);
    t.equal(text.code, 0, text.stderr);
    const hits = (JSON.parse(text.stdout) as { hits: { path: string; score: number }[] }).hits;
    t.equal(hits.length, 2);
    t.match(hits[0]!.path, /^synthetic\/xray\//, 'the demo model finds an x-ray for "a chest x-ray"');
    const none = await runCli(['search', '--index', full, '--text', 'x', '--image', 'y'], env);
    t.equal(none.code, 2);
  });
});

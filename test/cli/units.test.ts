// The building blocks of the `unimed` CLI (packages/cli) that need no service: the eval metrics against the
// test's own computation from the definitions (pairwise AUROC, ECE by hand), label matching, CSV and .npy
// round trips, Retry-After, bounded concurrency and the progress output. The commands themselves run against a
// real service in test/integration/cli-*.test.ts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CommandError } from '../../packages/cli/src/args.ts';
import { retryAfterMs } from '../../packages/cli/src/client.ts';
import { formatCsv, parseCsv } from '../../packages/cli/src/csv.ts';
import { labelKey, matchLabels } from '../../packages/cli/src/eval/dataset.ts';
import { auroc, computeMetrics } from '../../packages/cli/src/eval/metrics.ts';
import type { Scored } from '../../packages/cli/src/eval/metrics.ts';
import { npyHeader, readNpy, writeNpy } from '../../packages/cli/src/npy.ts';
import { forEachLimit } from '../../packages/cli/src/pool.ts';
import { Progress } from '../../packages/cli/src/progress.ts';
import { until } from '../helpers/common.ts';

/** A seeded generator (mulberry32), so the data is the same on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('metrics equal the definitions, computed another way', (t) => {
  const rand = random(7);
  const labels = ['a', 'b', 'c', 'never'];
  const items: Scored[] = [];
  for (let i = 0; i < 200; i++) {
    const truth = Math.floor(rand() * 3);
    // Rounded to 1/8 so that many scores tie (AUROC counts ties half).
    const raw = labels.map((_, c) => Math.round((rand() + (c === truth ? 0.6 : 0)) * 8) / 8 + 0.01);
    const sum = raw.reduce((a, b) => a + b, 0);
    const probabilities = raw.map((r) => r / sum);
    items.push({ truth, predicted: probabilities.indexOf(Math.max(...probabilities)), probabilities });
  }
  const m = computeMetrics(labels, items);
  t.equal(m.n, 200);
  t.equal(m.accuracy, items.filter((x) => x.truth === x.predicted).length / 200);
  const recalls: number[] = [];
  const areas: number[] = [];
  labels.forEach((label, c) => {
    const tp = items.filter((x) => x.truth === c && x.predicted === c).length;
    const support = items.filter((x) => x.truth === c).length;
    const predicted = items.filter((x) => x.predicted === c).length;
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    if (support > 0) recalls.push(recall);
    let wins = 0;
    const pos = items.filter((x) => x.truth === c);
    const neg = items.filter((x) => x.truth !== c);
    for (const p of pos)
      for (const n of neg) wins += p.probabilities[c]! > n.probabilities[c]! ? 1 : p.probabilities[c] === n.probabilities[c] ? 0.5 : 0;
    const area = pos.length === 0 ? null : wins / (pos.length * neg.length);
    if (area !== null) areas.push(area);
    const got = m.per_class[label]!;
    t.ok(
      Math.abs(got.precision - precision) < 1e-12 && Math.abs(got.recall - recall) < 1e-12 && got.support === support,
      `${label}: precision, recall, support`,
    );
    t.equal(got.f1, precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), `${label}: F1`);
    t.equal(
      got.auroc === null ? null : Math.round(got.auroc * 1e12),
      area === null ? null : Math.round(area * 1e12),
      `${label}: AUROC (pairwise, ties half)`,
    );
  });
  t.equal(m.per_class.never!.auroc, null, 'a class without examples has no AUROC');
  t.equal(m.per_class.never!.recall, 0, 'and recall 0, not NaN');
  t.ok(
    Math.abs(m.balanced_accuracy - recalls.reduce((a, b) => a + b, 0) / recalls.length) < 1e-12,
    'balanced accuracy: mean recall over classes with examples',
  );
  t.ok(Math.abs(m.macro_auroc! - areas.reduce((a, b) => a + b, 0) / areas.length) < 1e-12, 'macro AUROC over the defined ones');
  t.same(
    m.confusion.map((row) => row.reduce((a, b) => a + b, 0)),
    labels.map((_, c) => items.filter((x) => x.truth === c).length),
    'confusion rows are the true classes',
  );
  t.end();
});

t.test('ECE: 15 equal-width bins of the top-1 probability, worked by hand', (t) => {
  // top-1 0.95 (right), 0.95 (wrong): bin (14/15, 1], accuracy 0.5, confidence 0.95 -> |0.45| x 2/4
  // top-1 0.5 (right), 0.5 (right): bin (7/15, 8/15], accuracy 1, confidence 0.5 -> |0.5| x 2/4
  const item = (truth: number, predicted: number, top: number): Scored => ({
    truth,
    predicted,
    probabilities: predicted === 0 ? [top, 1 - top] : [1 - top, top],
  });
  const m = computeMetrics(['x', 'y'], [item(0, 0, 0.95), item(1, 0, 0.95), item(0, 0, 0.5), item(1, 1, 0.5)]);
  t.ok(Math.abs(m.ece - (0.45 * 0.5 + 0.5 * 0.5)) < 1e-12, `ECE ${m.ece}`);
  t.equal(m.reliability.length, 15);
  t.same(
    m.reliability.filter((b) => b.count > 0).map((b) => [Math.round(b.lower * 15), b.count]),
    [
      [7, 2],
      [14, 2],
    ],
  );
  const edge = computeMetrics(['x', 'y'], [item(0, 0, 0.6)]);
  t.equal(
    edge.reliability.findIndex((b) => b.count === 1),
    8,
    'a bin holds its upper edge: 0.6 = 9/15 is in (8/15, 9/15]',
  );
  t.equal(auroc([0.1, 0.2], [true, true]), null, 'AUROC without negatives is undefined');
  t.end();
});

t.test('class names match labels after lower-casing and dropping all but letters and digits', (t) => {
  t.equal(labelKey('X-Ray'), 'xray');
  t.equal(labelKey('Histo Pathology!'), 'histopathology');
  t.same(
    [...matchLabels(['X-Ray', 'CT'], ['xray', 'ct', 'mri'], 'the set')],
    [
      ['X-Ray', 0],
      ['CT', 1],
    ],
  );
  let error: unknown;
  try {
    matchLabels(['xray', 'brain scan', 'radiograph'], ['xray', 'ct'], 'prompt set "m"');
  } catch (e) {
    error = e;
  }
  t.ok(error instanceof CommandError, 'a mismatch is a CommandError (exit status 1, message only)');
  t.match(
    (error as Error).message,
    /no label for: brain scan, radiograph\n.*labels of prompt set "m": xray, ct/s,
    'listing every class without a label, and the labels',
  );
  t.throws(() => matchLabels(['ab'], ['a-b', 'AB'], 'x'), /more than one label for: ab \(a-b, AB\)/);
  t.end();
});

t.test('CSV and TSV round trips', (t) => {
  const rows = [
    ['path', 'label'],
    ['a,b.png', 'say "hi"'],
    ['multi\nline.dcm', ' padded '],
    ['', 'plain'],
  ];
  t.same(parseCsv(formatCsv(rows)), rows, 'commas, quotes, line breaks, spaces and empty fields survive');
  t.same(
    parseCsv('\ufeffpath,label\r\nx.png,ct\r\n'),
    [
      ['path', 'label'],
      ['x.png', 'ct'],
    ],
    'BOM and CRLF',
  );
  t.same(
    parseCsv('file\tclass\na "b".png\tX-Ray\n', '\t'),
    [
      ['file', 'class'],
      ['a "b".png', 'X-Ray'],
    ],
    'TSV takes quotes literally',
  );
  t.throws(() => formatCsv([['a\tb']], '\t'), /tab or line break/);
  t.throws(() => parseCsv('"open'), /unterminated/);
  t.end();
});

t.test('.npy: the header numpy expects, and a round trip', (t) => {
  const header = npyHeader(3, 5);
  t.equal(header.length % 64, 0, 'header padded to a multiple of 64 bytes');
  t.same([...header.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  t.match(header.toString('latin1', 10), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 5\), \} *\n$/);
  const dir = mkdtempSync(join(tmpdir(), 'unimed-npy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rows = [new Float32Array([1, -2.5, 3e-8, 0, 1 / 3]), new Float32Array([5, 6, 7, 8, 9]), new Float32Array(5)];
  writeNpy(join(dir, 'a.npy'), 5, rows, 3);
  t.equal(readFileSync(join(dir, 'a.npy')).length, header.length + 3 * 5 * 4);
  const back = readNpy(join(dir, 'a.npy'));
  t.same([back.rows, back.cols], [3, 5]);
  t.same(
    [...back.data],
    rows.flatMap((r) => [...r]),
  );
  t.throws(() => writeNpy(join(dir, 'b.npy'), 5, rows, 4), /wrote 3 rows, the header says 4/);
  t.end();
});

t.test('Retry-After: seconds or an HTTP date', (t) => {
  t.equal(retryAfterMs('3'), 3000);
  t.equal(retryAfterMs(' 0 '), 0);
  t.equal(retryAfterMs(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1)), 10_000);
  t.equal(retryAfterMs(null), undefined);
  t.equal(retryAfterMs('soon'), undefined);
  t.end();
});

t.test('forEachLimit: at most `limit` at once, every item once, the first error stops new work', async (t) => {
  let running = 0;
  let most = 0;
  const seen: number[] = [];
  await forEachLimit([...Array(20).keys()], 3, async (item) => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setImmediate(r));
    seen.push(item);
    running--;
  });
  t.equal(most, 3);
  t.same(
    seen.sort((a, b) => a - b),
    [...Array(20).keys()],
  );
  const started: number[] = [];
  await t.rejects(
    forEachLimit([0, 1, 2, 3, 4, 5], 2, async (item) => {
      started.push(item);
      await new Promise((r) => setImmediate(r));
      if (item === 1) throw new Error('boom');
    }),
    /boom/,
  );
  t.ok(started.length < 6, `no new item after the error (started ${started.join(', ')})`);
});

t.test('progress: a bar with rate and ETA on a terminal, plain periodic lines otherwise', async (t) => {
  const plain: string[] = [];
  const p = new Progress('images', 10, { write: (s) => plain.push(s) > 0 }, { tty: false, intervalMs: 10 });
  p.add(3);
  p.log('failed: a.png: 422 undecodable: x');
  p.add(0, 1);
  await until('a periodic line', () => plain.some((l) => l.startsWith('4/10 images')));
  p.finish();
  t.notOk(plain.join('').includes('\r'), 'no carriage returns in plain output');
  t.match(
    plain.find((l) => l.startsWith('4/10 images')),
    /^4\/10 images, 1 failed, [\d.]+\/s, ETA \d\d:\d\d\n$/,
  );
  t.match(plain.at(-1), /^4\/10 images, 1 failed, .* elapsed\n$/, 'and a closing line');
  const tty: string[] = [];
  const bar = new Progress('images', 4, { write: (s) => tty.push(s) > 0, isTTY: true });
  bar.add(2);
  bar.finish();
  const drawn = tty.join('');
  t.ok(drawn.startsWith('\r\x1b[K['), 'a bar redrawn in place (carriage return, erase line)');
  t.match(drawn, /\[#{15}\.{15}\] {2}50% 2\/4 images, [\d.]+\/s, ETA /, 'half full, with the rate and the time left');
});

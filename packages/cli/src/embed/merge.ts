/**
 * `unimed embed merge OUT SHARD_DIR...`: joins the outputs of `embed --shard I/N` (all N of them, finished, from
 * one model with the same options) back into sorted path order: the same files one unsharded run writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMON_HELP, CommandError, parse, UsageError } from '../args.ts';
import { byPath } from '../inputs.ts';
import { writeNpy } from '../npy.ts';
import type { Failure } from '../failures.ts';
import { indexCsv, metaText, readFinished } from './store.ts';
import { formatCsv } from '../csv.ts';

export const MERGE_HELP = `Usage: unimed embed merge OUT SHARD_DIR...

Joins the output folders of "unimed embed --shard I/N" (every shard 0..N-1, each finished, all from one model
with the same rendering options) into OUT, in sorted path order: embeddings.npy, index.csv, errors.csv and
meta.json equal to those of one unsharded run. Needs no service (the common options are accepted and unused).

${COMMON_HELP}
`;

export function mergeCommand(argv: string[]): number {
  const parsed = parse(argv, {}, MERGE_HELP, true);
  if (parsed === undefined) return 0;
  const [out, ...dirs] = parsed.positionals;
  if (out === undefined || dirs.length === 0) throw new UsageError('usage: unimed embed merge OUT SHARD_DIR...');
  const shards = dirs.map((dir) => ({ dir, ...readFinished(dir) }));
  const first = shards[0]!.meta;
  const count = first.shard?.count;
  const { shard: _, ...common } = first;
  for (const s of shards) {
    if (s.meta.shard === undefined)
      throw new CommandError(`${s.dir} is not a shard (its meta.json has no "shard"; it was embedded without --shard)`);
    const { shard: __, ...rest } = s.meta;
    if (metaText(rest) !== metaText(common))
      throw new CommandError(
        `${s.dir} was embedded differently from ${shards[0]!.dir}: ${JSON.stringify(rest)} vs ${JSON.stringify(common)}`,
      );
    if (s.meta.shard.count !== count)
      throw new CommandError(`${s.dir} is shard ${s.meta.shard.index}/${s.meta.shard.count}, ${shards[0]!.dir} one of ${count}`);
  }
  const indices = shards.map((s) => s.meta.shard!.index).sort((a, b) => a - b);
  const missing = Array.from({ length: count! }, (_, i) => i).filter((i) => !indices.includes(i));
  const twice = indices.filter((v, i) => indices.indexOf(v) !== i);
  if (missing.length > 0 || twice.length > 0) {
    throw new CommandError(
      `shards of ${count}: ${missing.length > 0 ? `missing ${missing.join(', ')}` : ''}${missing.length > 0 && twice.length > 0 ? '; ' : ''}${twice.length > 0 ? `given twice ${twice.join(', ')}` : ''}`,
    );
  }

  const dim = first.dim;
  const rows = shards.flatMap((s) => s.rows.map((r, i) => ({ ...r, data: s.data, row: i })));
  // By path, then by frame (the frames of one object stay together and in order, as one run writes them).
  rows.sort((a, b) => byPath(a, b) || (a.frame ?? -1) - (b.frame ?? -1));
  for (let i = 1; i < rows.length; i++)
    if (rows[i]!.path === rows[i - 1]!.path && rows[i]!.frame === rows[i - 1]!.frame)
      throw new CommandError(`${rows[i]!.path}${rows[i]!.frame === undefined ? '' : ` frame ${rows[i]!.frame}`} is in two shards`);
  const failures: Failure[] = shards.flatMap((s) => s.failures).sort(byPath);

  mkdirSync(out, { recursive: true });
  writeNpy(
    join(out, 'embeddings.npy'),
    dim,
    rows.map((r) => r.data.subarray(r.row * dim, (r.row + 1) * dim)),
    rows.length,
  );
  writeFileSync(join(out, 'index.csv'), indexCsv(rows));
  writeFileSync(
    join(out, 'errors.csv'),
    formatCsv([['path', 'status', 'code', 'message'], ...failures.map((f) => [f.path, f.status, f.code, f.message])]),
  );
  writeFileSync(join(out, 'meta.json'), metaText(common));
  process.stdout.write(`merged ${shards.length} shards: ${rows.length} rows, ${failures.length} failed: ${out}\n`);
  return 0;
}

/**
 * `unimed search`: the rows of an embedded archive (`unimed embed`) nearest to a text or an image by cosine,
 * the query embedded by the same model through the service.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  COMMON_HELP,
  CommandError,
  IMAGE_HELP,
  IMAGE_OPTIONS,
  UsageError,
  common,
  imageOptions,
  int,
  parse,
  required,
  str,
} from './args.ts';
import { ApiError } from './client.ts';
import { ModelGuard } from './failures.ts';
import { readFinished } from './embed/store.ts';

export const SEARCH_HELP = `Usage: unimed search --index DIR (--text "..." | --image FILE) [--top-k K] [--json]

The rows of an archive embedded by "unimed embed" (DIR: its --out, or a merge's OUT) nearest to the query by
cosine, best first: one line per hit, "path<TAB>score" (score = cosine, 6 decimals; "<TAB>frame N" follows for
a frame of a multi-frame DICOM object). The query is embedded
through /embed/text or /embed/image by the index's model; the service must serve that model with the same
sha256. An image query is rendered with the index's rendering options unless given here.

  --index DIR     an embed output folder
  --text TEXT     a text query
  --image FILE    an image query (any format the service takes, DICOM included)
  --top-k K       hits to show, 1-10000 (default 10)
  --json          one JSON document instead: {"model", "model_sha256", "hits": [{"path", "frame"?, "score"}, ...]}

${IMAGE_HELP}

${COMMON_HELP}
`;

export async function searchCommand(argv: string[]): Promise<number> {
  const parsed = parse(
    argv,
    {
      index: { type: 'string' },
      text: { type: 'string' },
      image: { type: 'string' },
      'top-k': { type: 'string' },
      json: { type: 'boolean' },
      ...IMAGE_OPTIONS,
    },
    SEARCH_HELP,
  );
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const dir = required(values, 'index');
  const text = str(values, 'text');
  const image = str(values, 'image');
  if ((text === undefined) === (image === undefined)) throw new UsageError('give one of --text or --image');
  const topK = int(values, 'top-k', 10, 1, 10_000);
  const { client, model } = common(values, () => undefined);
  const index = readFinished(dir);
  if (model !== undefined && model !== index.meta.model)
    throw new UsageError(`--model ${model}: the index was embedded with ${index.meta.model}`);
  const guard = new ModelGuard({ model: index.meta.model, sha256: index.meta.model_sha256 });

  let query: number[];
  try {
    if (text !== undefined) {
      const answer = await client.embedText([text], index.meta.model);
      guard.check(answer.body.model, answer.modelSha256);
      query = answer.body.embeddings[0]!;
    } else {
      const given = imageOptions(values);
      const rendering = Object.keys(given).length > 0 ? given : (index.meta.rendering ?? {});
      const answer = await client.embedImages([{ bytes: readFileSync(image!), name: basename(image!) }], {
        ...rendering,
        model: index.meta.model,
      });
      guard.check(answer.body.model, answer.modelSha256);
      query = answer.body.embeddings[0]!;
    }
  } catch (error) {
    if (error instanceof ApiError) throw new CommandError(`embedding the query failed: ${error.message}`);
    if ((error as { code?: string }).code === 'ENOENT') throw new CommandError(`cannot read ${image}: no such file`);
    throw error;
  }

  const dim = index.meta.dim;
  const queryNorm = Math.hypot(...query);
  const scores = index.rows.map(({ path, frame }, r) => {
    let dot = 0;
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = index.data[r * dim + j]!;
      dot += v * query[j]!;
      norm += v * v;
    }
    const score = norm === 0 || queryNorm === 0 ? 0 : dot / (Math.sqrt(norm) * queryNorm);
    return frame === undefined ? { path, score } : { path, frame, score };
  });
  const hits = scores.sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : 1) || (a.frame ?? -1) - (b.frame ?? -1)).slice(0, topK);
  if (values.json === true) {
    process.stdout.write(JSON.stringify({ model: index.meta.model, model_sha256: index.meta.model_sha256, hits }) + '\n');
  } else {
    process.stdout.write(
      hits.map((h) => `${h.path}\t${h.score.toFixed(6)}${h.frame === undefined ? '' : `\tframe ${h.frame}`}\n`).join(''),
    );
  }
  return 0;
}

/**
 * Outputs of independent reference tools (pydicom, numpy, dcmtk, GDCM, OpenJPH, training/tokenizer.py,
 * training/synthetic.py), committed under test/fixtures/reference/<test file name>/ so that `npm test` needs
 * nothing but Node. Each entry is keyed by a hash of exactly what it was computed from (the input bytes, the
 * tool, its arguments), so a test whose input changes finds no entry and says so, instead of comparing with a
 * stale one. `index.json` there says in words what made each entry.
 *
 * UNIMED_REFERENCE chooses where values come from (the scripts in package.json set it; see test/suite.ts):
 * - unset or `committed` (npm test): the committed store only; no external program runs.
 * - `live` (npm run test:reference): computed by the tools, as the tests always did; the store is not touched.
 * - `record` (npm run fixtures): computed by the tools and written to the store, which is pruned to what this
 *   run used. Inputs that a tool makes (`kind: 'input'`: dcmtk/GDCM conversions, OpenJPH codestreams; some stamp
 *   new UIDs each time) are kept as committed when their recipe is unchanged, unless UNIMED_REFERENCE_FRESH=1.
 * - `check` (npm run fixtures -- --check): every reference output (`kind: 'output'`) is recomputed by the tools
 *   from the committed inputs and must equal the committed one; tool-made inputs come from the store. A missing
 *   entry, a difference, or a committed entry no test used fails the test file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

export type ReferenceMode = 'committed' | 'live' | 'record' | 'check';

function modeFromEnv(): ReferenceMode {
  const value = process.env.UNIMED_REFERENCE ?? 'committed';
  if (value === 'committed' || value === 'live' || value === 'record' || value === 'check') return value;
  throw new Error(`UNIMED_REFERENCE=${value}: expected committed, live, record or check`);
}

export const MODE: ReferenceMode = modeFromEnv();
const FRESH = process.env.UNIMED_REFERENCE_FRESH === '1';
export const STORE_ROOT = new URL('../fixtures/reference/', import.meta.url).pathname;
const TEST_ROOT = new URL('../', import.meta.url).pathname;

/** Named binary results of one computation. */
export type Blobs = Record<string, Buffer>;

export interface Recipe {
  /** `input`: made by a tool, fed to the service (kept when regenerated, not recomputed by the check);
   * `output`: what the service's result is compared with (recomputed and compared by the check). */
  kind: 'input' | 'output';
  /** How it was made, in words, for index.json and messages: e.g. "dcmconv +ti" or "pydicom render". */
  what: string;
  /** Everything the result depends on besides the tool itself (Buffers and typed arrays by content). */
  key: unknown;
  /** For the check: the form in which committed and recomputed results must be equal (default: the bytes). */
  normalize?: (blobs: Blobs) => Blobs | Promise<Blobs>;
}

interface Entry {
  kind: 'input' | 'output';
  what: string;
  /** blob name -> file in the store directory (`.gz` when stored compressed) */
  files: Record<string, string>;
}

/** A stable hash of a JSON-like value in which Buffers and typed arrays count by their bytes. */
export function hashKey(value: unknown): string {
  const hash = createHash('sha256');
  const feed = (v: unknown): void => {
    if (ArrayBuffer.isView(v)) {
      hash.update(`bytes:${v.byteLength}:`);
      hash.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    } else if (Array.isArray(v)) {
      hash.update(`array:${v.length}[`);
      v.forEach(feed);
      hash.update(']');
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v).sort();
      hash.update(`object:${keys.length}{`);
      for (const k of keys) {
        hash.update(JSON.stringify(k));
        feed((v as Record<string, unknown>)[k]);
      }
      hash.update('}');
    } else {
      hash.update(`${typeof v}:${JSON.stringify(v) ?? 'undefined'};`);
    }
  };
  feed(value);
  return hash.digest('hex').slice(0, 16);
}

/** The store of the test file this process runs (tap runs each file in its own process). */
class Store {
  readonly name: string;
  readonly dir: string;
  private readonly committed: Record<string, Entry>;
  private readonly used = new Map<string, { entry: Entry; blobs?: Blobs }>();
  private readonly problems: string[] = [];

  constructor() {
    // Named by the test's path under test/ (test/inputs/dicom/render.test.ts keeps inputs/dicom/render).
    const file = relative(TEST_ROOT, resolve(process.argv[1] ?? ''));
    if (!file.endsWith('.test.ts') || file.startsWith('..'))
      throw new Error(`reference store: ${file} is not a test file under test/ (run it with tap or node test/x.test.ts)`);
    this.name = file.slice(0, -'.test.ts'.length);
    this.dir = join(STORE_ROOT, this.name);
    const index = join(this.dir, 'index.json');
    this.committed = existsSync(index) ? (JSON.parse(readFileSync(index, 'utf8')) as { entries: Record<string, Entry> }).entries : {};
    if (MODE === 'record' || MODE === 'check') process.on('exit', (code) => this.finish(code));
  }

  has(key: string): boolean {
    return key in this.committed;
  }

  read(key: string, recipe: Recipe): Blobs {
    const entry = this.committed[key];
    if (entry === undefined) {
      throw new Error(
        `no committed reference for ${recipe.what} (key ${key}) in test/fixtures/reference/${this.name}/: its input changed or it is new. ` +
          'Regenerate with `npm run fixtures` (needs the reference tools: docs/development.md), or run `npm run test:reference` to compute it live.',
      );
    }
    const blobs: Blobs = {};
    for (const [name, file] of Object.entries(entry.files)) {
      const bytes = readFileSync(join(this.dir, file));
      blobs[name] = file.endsWith('.gz') ? gunzipSync(bytes) : bytes;
    }
    this.used.set(key, { entry });
    return blobs;
  }

  keep(key: string, recipe: Recipe, blobs: Blobs): void {
    this.used.set(key, { entry: { kind: recipe.kind, what: recipe.what, files: {} }, blobs });
  }

  problem(message: string): void {
    this.problems.push(message);
  }

  private finish(code: number): void {
    if (MODE === 'check') {
      const unused = Object.keys(this.committed).filter((key) => !this.used.has(key));
      for (const key of unused)
        this.problems.push(`committed entry ${key} (${this.committed[key]!.what}) was used by no test: \`npm run fixtures\` removes it`);
      if (this.problems.length > 0) {
        process.stderr.write(
          `reference check failed for test/fixtures/reference/${this.name}/:\n${this.problems.map((p) => `  - ${p}`).join('\n')}\n`,
        );
        process.exitCode = 1;
      }
      return;
    }
    // record: write what this run used; after a failed run keep the committed entries it did not reach.
    const entries: Record<string, Entry> = code === 0 ? {} : { ...this.committed };
    mkdirSync(this.dir, { recursive: true });
    for (const [key, { entry, blobs }] of this.used) {
      if (blobs === undefined) {
        entries[key] = entry;
        continue;
      }
      const files: Record<string, string> = {};
      for (const [name, bytes] of Object.entries(blobs)) {
        const file = `${key}-${name.replace(/[^A-Za-z0-9._-]/g, '_')}`;
        const packed = gzipSync(bytes, { level: 9 });
        const gz = packed.length < bytes.length * 0.9;
        files[name] = gz ? `${file}.gz` : file;
        writeFileSync(join(this.dir, files[name]), gz ? packed : bytes);
      }
      entries[key] = { ...entry, files };
    }
    const sorted = Object.fromEntries(Object.entries(entries).sort(([a], [b]) => a.localeCompare(b)));
    const keep = new Set(['index.json', ...Object.values(sorted).flatMap((e) => Object.values(e.files))]);
    for (const file of readdirSync(this.dir)) if (!keep.has(file)) rmSync(join(this.dir, file));
    const regenerate = 'npm run fixtures (test/suite.ts; needs the reference tools, docs/development.md)';
    writeFileSync(
      join(this.dir, 'index.json'),
      `${JSON.stringify({ test: `test/${this.name}.test.ts`, regenerate, entries: sorted }, null, 1)}\n`,
    );
    if (code !== 0) process.stderr.write(`reference store ${this.name}: the run failed, so committed entries it did not reach were kept\n`);
  }
}

let store: Store | undefined;
function theStore(): Store {
  store ??= new Store();
  return store;
}

/** Whether `recipe` must be computed by its tool in this mode (otherwise it is read from the store). */
function computes(recipe: Recipe, key: string): boolean {
  if (MODE === 'live') return true;
  if (MODE === 'committed') return false;
  if (recipe.kind === 'output') return true;
  // A tool-made input: the committed one is used by the check, and kept by a recording unless fresh or new.
  return MODE === 'record' && (FRESH || !theStore().has(key));
}

function differences(what: string, committed: Blobs, live: Blobs): string[] {
  const names = new Set([...Object.keys(committed), ...Object.keys(live)]);
  const out: string[] = [];
  for (const name of names) {
    const a = committed[name];
    const b = live[name];
    if (a === undefined || b === undefined) out.push(`${what}: ${name} is ${a === undefined ? 'new' : 'gone'}`);
    else if (!a.equals(b)) {
      let at = 0;
      while (at < Math.min(a.length, b.length) && a[at] === b[at]) at++;
      out.push(`${what}: ${name} differs (committed ${a.length} bytes, recomputed ${b.length}; first difference at byte ${at})`);
    }
  }
  return out;
}

/** After computing: record it, or compare it with the committed one (check). Returns what the test uses. */
async function settle(recipe: Recipe, key: string, blobs: Blobs): Promise<Blobs> {
  if (MODE === 'live') return blobs;
  const s = theStore();
  if (MODE === 'check') {
    const committed = s.read(key, recipe);
    const normalize = recipe.normalize ?? ((b: Blobs) => b);
    const found = differences(recipe.what, await normalize(committed), await normalize(blobs));
    for (const problem of found) s.problem(problem);
    if (found.length > 0) throw new Error(`reference check: ${found.join('; ')}`);
    return blobs;
  }
  s.keep(key, recipe, blobs);
  return blobs;
}

function settleSync(recipe: Recipe, key: string, blobs: Blobs): Blobs {
  if (recipe.normalize !== undefined && MODE === 'check') throw new Error(`${recipe.what}: a normalized check needs referenceAsync`);
  if (MODE === 'live') return blobs;
  const s = theStore();
  if (MODE === 'check') {
    const found = differences(recipe.what, s.read(key, recipe), blobs);
    for (const problem of found) s.problem(problem);
    if (found.length > 0) throw new Error(`reference check: ${found.join('; ')}`);
    return blobs;
  }
  s.keep(key, recipe, blobs);
  return blobs;
}

/** One reference result: from the store, or from `compute` (which runs the tool), as MODE says. */
export function reference(recipe: Recipe, compute: () => Blobs): Blobs {
  const key = hashKey([recipe.what, recipe.key]);
  return computes(recipe, key) ? settleSync(recipe, key, compute()) : theStore().read(key, recipe);
}

export async function referenceAsync(recipe: Recipe, compute: () => Promise<Blobs>): Promise<Blobs> {
  const key = hashKey([recipe.what, recipe.key]);
  return computes(recipe, key) ? settle(recipe, key, await compute()) : theStore().read(key, recipe);
}

/**
 * Many results of one tool run (one Python start-up for all of them): `compute` receives the indices of the
 * recipes that need computing and returns their results in that order.
 */
export function referenceBatch(recipes: Recipe[], compute: (indices: number[]) => Blobs[]): Blobs[] {
  const keys = recipes.map((r) => hashKey([r.what, r.key]));
  const todo = recipes.flatMap((r, i) => (computes(r, keys[i]!) ? [i] : []));
  const computed = todo.length > 0 ? compute(todo) : [];
  const out: Blobs[] = new Array<Blobs>(recipes.length);
  todo.forEach((i, n) => (out[i] = settleSync(recipes[i]!, keys[i]!, computed[n]!)));
  recipes.forEach((r, i) => (out[i] ??= theStore().read(keys[i]!, r)));
  return out;
}

/** JSON as a blob and back. */
export const jsonBlob = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value)}\n`);
export const fromJsonBlob = <T>(blob: Buffer): T => JSON.parse(blob.toString('utf8')) as T;

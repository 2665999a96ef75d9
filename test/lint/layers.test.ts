// The layering rules (.dependency-cruiser.mjs, run by .ci/run as `npx depcruise --config .dependency-cruiser.mjs src
// packages/cli`) and the 250-line cap (eslint.config.js `max-lines`) catch what they are there for. The import rules
// run, through the real CLI and the repository's config, on small trees laid out like src/ and packages/cli in a
// temporary directory: one with a violation of each kind planted, one clean. The line cap runs through ESLint with the repository's config on
// texts given a path under src/ (nothing is written there).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = join(ROOT, '.dependency-cruiser.mjs');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');

type Tree = Record<string, string>;

interface Violation {
  rule: string;
  from: string;
  to: string;
  /** For no-cycle: the modules of the cycle (depcruise reports a cycle once, from whichever module it met first). */
  cycle?: string[];
}

interface Cruise {
  status: number | null;
  violations: Violation[];
  cruised: number;
  dependencies: number;
  errText: string;
}

function plant(tree: Tree): string {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-layers-'));
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(join(dir, dirname(path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** What .ci/run cruises. */
const ROOTS = ['src', 'packages/cli'];
const inRoots = (file: string): boolean => ROOTS.some((root) => file.startsWith(`${root}/`));

/** depcruise on `<dir>/src` and `<dir>/packages/cli` with the repository's rules: the JSON result for the details, the CI form for its exit status. */
function cruise(dir: string): Cruise {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [DEPCRUISE, '--config', CONFIG, ...args, ...ROOTS], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  const json = run('--output-type', 'json');
  const result = JSON.parse(json.stdout) as {
    summary: {
      violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[];
      totalCruised: number;
      totalDependenciesCruised: number;
    };
  };
  const ci = run();
  return {
    status: ci.status,
    errText: ci.stdout + ci.stderr,
    violations: result.summary.violations.map((v) => ({
      rule: v.rule.name,
      from: v.from,
      to: v.to,
      ...(v.cycle ? { cycle: v.cycle.map((c) => c.name) } : {}),
    })),
    cruised: result.summary.totalCruised,
    dependencies: result.summary.totalDependenciesCruised,
  };
}

const key = (v: Violation): string =>
  v.cycle ? `${v.rule}: ${[...new Set([v.from, ...v.cycle])].sort().join(' ')}` : `${v.rule}: ${v.from} -> ${v.to}`;

/** A package for the trees to import, so that imports of packages are seen to pass. */
const PACKAGE: Tree = {
  'node_modules/some-package/package.json': JSON.stringify({ name: 'some-package', type: 'module', exports: './index.js' }),
  'node_modules/some-package/index.js': 'export const x = 1;\n',
};

/** Every layer importing from the layers below it, skipping some, by value, by type only, dynamically. */
const CLEAN: Tree = {
  ...PACKAGE,
  'src/server.ts': "import { app } from './app.ts';\nexport const server = app;\n",
  'src/app.ts':
    "import { route } from './http/route.ts';\nimport { decoder } from './inputs/decoder/pixel-decoder.ts';\nexport const app = [route, decoder];\n",
  'src/http/route.ts':
    "import type { Registry } from '../service/registry.ts';\nimport { decode } from '../inputs/decode.ts';\nimport { score } from '../zeroshot/scoring.ts';\nimport { EngineError } from '../engine/errors.ts';\nimport { x } from 'some-package';\nexport const route = (r: Registry) => [r, decode, score, EngineError, x];\n",
  'src/service/registry.ts':
    "import { score } from '../zeroshot/scoring.ts';\nimport type { Spec } from '../models/types.ts';\nimport { Encoder } from '../engine/encoder.ts';\nexport interface Registry { spec: Spec }\nexport const registry = [score, Encoder];\n",
  'src/inputs/decode.ts':
    "import type { Spec } from '../models/types.ts';\nimport { decoder } from './decoder/pixel-decoder.ts';\nexport const decode = (s: Spec) => [s, decoder];\n",
  'src/inputs/decoder/pixel-decoder.ts': "import { Pool } from '../../workers/pool.ts';\nexport const decoder = new Pool();\n",
  'src/zeroshot/scoring.ts':
    "import type { Spec } from '../models/types.ts';\nimport { dot } from '../vectors.ts';\nexport const score = (s: Spec) => [s, dot];\n",
  'src/models/types.ts': "import type { Config } from '../config.ts';\nexport interface Spec { config: Config }\n",
  'src/models/text-embedder.ts':
    "import type { Encoder } from '../engine/encoder.ts';\nexport const embed = async (e: Encoder) => [e, await import('./types.ts')];\n",
  'src/engine/encoder.ts':
    "import { Pool } from '../workers/pool.ts';\nimport { EngineError } from './errors.ts';\nexport class Encoder { pool = new Pool(); error = EngineError; }\n",
  'src/engine/errors.ts': "import { ServiceError } from '../errors.ts';\nexport class EngineError extends ServiceError {}\n",
  'src/workers/pool.ts':
    "import { Worker } from 'node:worker_threads';\nimport type { Config } from '../config.ts';\nexport class Pool { worker?: Worker; config?: Config; }\n",
  'src/config.ts': "import { ServiceError } from './errors.ts';\nexport interface Config { e: ServiceError }\n",
  'src/errors.ts': 'export class ServiceError extends Error {}\n',
  'src/vectors.ts': "import type { Config } from './config.ts';\nexport const dot = (c: Config) => c;\n",
  // The CLI: its own modules, its generated API types, packages and Node built-ins.
  'packages/cli/bin/unimed.ts': "import { run } from '../src/main.ts';\nawait run();\n",
  'packages/cli/src/main.ts':
    "import type { paths } from './api.d.ts';\nimport { readFileSync } from 'node:fs';\nimport { x } from 'some-package';\nexport const run = async (p?: paths) => [p, readFileSync, x];\n",
  'packages/cli/src/api.d.ts': 'export interface paths { x: string }\n',
};

/** One violation of each kind, each named by what must be reported. */
const PLANTED: Tree = {
  ...CLEAN,
  // Cycles through type-only imports, both spellings: `import type` and `import { type X }`.
  'src/models/a.ts': "import type { B } from './b.ts';\nexport interface A { b?: B }\nexport const a = 1;\n",
  'src/models/b.ts': "import { a } from './a.ts';\nexport interface B { n: number }\nexport const b = a;\n",
  'src/zeroshot/c.ts': "import { type D } from './d.ts';\nexport interface C { d?: D }\n",
  'src/zeroshot/d.ts': "import type { C } from './c.ts';\nexport interface D { c?: C }\n",
  // Upward: engine -> http by value, engine -> service by type only, workers -> engine by dynamic import, base -> models.
  'src/engine/bad.ts': "import { route } from '../http/route.ts';\nexport const bad = route;\n",
  'src/engine/typed.ts': "import type { Registry } from '../service/registry.ts';\nexport type Typed = Registry;\n",
  'src/workers/dynamic.ts': "export const load = () => import('../engine/encoder.ts');\n",
  'src/metrics.ts': "import type { Spec } from './models/types.ts';\nexport type M = Spec;\n",
  // Siblings: inputs and zeroshot do not import each other.
  'src/inputs/sibling.ts': "import { score } from '../zeroshot/scoring.ts';\nexport const s = score;\n",
  // A directory that is in no layer, imported and importing.
  'src/misc/stray.ts': "import { ServiceError } from '../errors.ts';\nexport const stray = ServiceError;\n",
  'src/http/uses-stray.ts': "import { stray } from '../misc/stray.ts';\nexport const u = stray;\n",
  // Out of src/, and an import that resolves to nothing.
  'src/http/uses-test.ts': "import { helper } from '../../test/helper.ts';\nexport const h = helper;\n",
  'test/helper.ts': 'export const helper = 1;\n',
  'src/models/missing.ts': "import { gone } from './gone.ts';\nexport const m = gone;\n",
  // The CLI reaching into the service: by value from bin/, by type only from src/; and an import that resolves to nothing.
  'packages/cli/bin/config.ts': "import { dot } from '../../../src/vectors.ts';\nexport const d = dot;\n",
  'packages/cli/src/typed.ts': "import type { Config } from '../../../src/config.ts';\nexport type C = Config;\n",
  'packages/cli/src/missing.ts': "import { gone } from './gone.ts';\nexport const m = gone;\n",
};

const EXPECTED: Violation[] = [
  { rule: 'no-cycle', from: 'src/models/a.ts', to: 'src/models/b.ts', cycle: ['src/models/b.ts'] },
  { rule: 'no-cycle', from: 'src/zeroshot/c.ts', to: 'src/zeroshot/d.ts', cycle: ['src/zeroshot/d.ts'] },
  { rule: 'layer-engine', from: 'src/engine/bad.ts', to: 'src/http/route.ts' },
  { rule: 'layer-engine', from: 'src/engine/typed.ts', to: 'src/service/registry.ts' },
  { rule: 'layer-workers', from: 'src/workers/dynamic.ts', to: 'src/engine/encoder.ts' },
  { rule: 'layer-base', from: 'src/metrics.ts', to: 'src/models/types.ts' },
  { rule: 'layer-inputs', from: 'src/inputs/sibling.ts', to: 'src/zeroshot/scoring.ts' },
  { rule: 'layer-unassigned', from: 'src/http/uses-stray.ts', to: 'src/misc/stray.ts' },
  { rule: 'layer-unassigned-importer', from: 'src/misc/stray.ts', to: 'src/errors.ts' },
  { rule: 'src-imports-src', from: 'src/http/uses-test.ts', to: 'test/helper.ts' },
  { rule: 'no-unresolvable', from: 'src/models/missing.ts', to: './gone.ts' },
  { rule: 'cli-imports-no-src', from: 'packages/cli/bin/config.ts', to: 'src/vectors.ts' },
  { rule: 'cli-imports-no-src', from: 'packages/cli/src/typed.ts', to: 'src/config.ts' },
  { rule: 'no-unresolvable', from: 'packages/cli/src/missing.ts', to: './gone.ts' },
];

t.test('a clean layering passes', (t) => {
  const dir = plant(CLEAN);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const result = cruise(dir);
  t.same(result.violations.map(key), [], 'no violation');
  t.equal(result.status, 0, 'depcruise exits 0');
  if (result.status !== 0) t.comment(result.errText);
  // Every file and import was seen (the package and node:worker_threads too), so "no violation" is not "nothing read".
  const files = Object.keys(CLEAN).filter(inRoots).length;
  t.ok(result.cruised >= files, `${result.cruised} modules cruised, ${files} files planted`);
  const imports = Object.entries(CLEAN)
    .filter(([f]) => inRoots(f))
    .reduce((n, [, text]) => n + (text.match(/from '|import\(/g)?.length ?? 0), 0);
  t.equal(result.dependencies, imports, 'every import is a dependency');
  t.end();
});

t.test('each planted violation is reported, and only those', (t) => {
  const dir = plant(PLANTED);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const result = cruise(dir);
  t.same([...new Set(result.violations.map(key))].sort(), EXPECTED.map(key).sort(), 'exactly the planted violations');
  t.not(result.status, 0, 'depcruise fails, as CI runs it');
  t.match(result.errText, /error layer-engine: src\/engine\/bad\.ts → src\/http\/route\.ts/, 'the CI output names the rule and the import');
  t.end();
});

t.test('max-lines: no file in src/ over 250 lines, blank and comment lines included', async (t) => {
  // The repository's config and only its max-lines rule; type information is not needed for it.
  const eslint = new ESLint({
    cwd: ROOT,
    ruleFilter: ({ ruleId }) => ruleId === 'max-lines',
    overrideConfig: { files: ['**/*.ts'], languageOptions: { parserOptions: { projectService: false, project: null } } },
  });
  const lines = (n: number, line: (i: number) => string): string => Array.from({ length: n }, (_, i) => `${line(i)}\n`).join('');
  const code = (i: number): string => `export const v${i} = ${i};`;
  const lint = async (text: string, path: string): Promise<string[]> => {
    const [result] = await eslint.lintText(text, { filePath: join(ROOT, path) });
    if (result === undefined) throw new Error('ESLint returned no result');
    return result.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`);
  };
  t.same(await lint(lines(251, code), 'src/engine/planted.ts'), ['max-lines'], '251 lines of code in src/');
  t.same(await lint(lines(250, code), 'src/engine/planted.ts'), [], '250 lines pass');
  t.same(
    await lint(lines(1, code) + lines(125, () => '') + lines(125, (i) => `// comment ${i}`), 'src/planted.ts'),
    ['max-lines'],
    '1 line of code, 125 blank and 125 comment lines',
  );
  t.same(await lint(lines(300, code), 'test/planted.ts'), [], 'the cap is for src/ only');
});

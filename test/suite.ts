/**
 * The test suites besides `npm test` (which is plain `tap`: every .test.ts under test/ but test/integration/, Node and `npm ci` only):
 *
 *   node test/suite.ts reference            npm run test:reference: the tests that compare with an independent
 *                                           reference, computing it live (Python, pydicom, dcmtk, GDCM, OpenJPH)
 *   node test/suite.ts fixtures [--fresh]   npm run fixtures: the same tests, recording what the tools computed
 *                                           into test/fixtures/reference/ (--fresh: remake the tool-made DICOM
 *                                           inputs too, not only the reference outputs)
 *   node test/suite.ts fixtures --check     npm run fixtures -- --check: recompute every reference output from the
 *                                           committed inputs and fail where it differs from the committed one
 *   node test/suite.ts integration          npm run test:integration: test/integration/*.test.ts, tests that need a
 *                                           real external program (each says which, with requireTool)
 *   node test/suite.ts tap-build            `tap build`, only when tap's plugin set is not the configured one
 *                                           (npm test's pretest)
 *
 * A reference test file is one that imports the reference store (test/helpers/reference.ts, directly or through
 * test/fixtures/dicom/tools.ts or test/helpers/synthetic.ts). When a tool is missing, these suites skip with a
 * message naming the package outside CI, and fail under CI=true (test/helpers/tools.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/common.ts';
import { STORE_ROOT } from './helpers/reference.ts';
import { findTool, missingToolsVerdict } from './helpers/tools.ts';

const STORE_IMPORTS =
  /from '(?:\.\/|(?:\.\.\/)+)(helpers\/reference|helpers\/synthetic|helpers\/dicom-decoder|fixtures\/dicom\/tools)\.ts'/;

/** The Debian packages the reference tools come from (docs/development.md). */
const TOOLS: { command: string; install: string }[] = [
  ...['dcmconv', 'dcmcjpeg', 'dcmdjpeg', 'dcmcjpls', 'dcmdjpls', 'dcmcrle', 'dcmdump'].map((command) => ({
    command,
    install: 'apt-get install dcmtk',
  })),
  { command: 'gdcmconv', install: 'apt-get install libgdcm-tools' },
  { command: 'ojph_compress', install: 'apt-get install openjph-tools' },
  { command: 'dciodvfy', install: 'apt-get install dicom3tools' },
];
const PYTHON_MODULES: { module: string; install: string }[] = [
  { module: 'numpy', install: 'apt-get install python3-numpy' },
  { module: 'PIL', install: 'apt-get install python3-pil' },
  { module: 'pydicom', install: 'apt-get install python3-pydicom' },
];

/** npm test's files (under test/, less test/integration/) that use the reference store. */
function referenceTestFiles(): string[] {
  const dir = join(ROOT, 'test');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts') && !f.startsWith('integration/') && STORE_IMPORTS.test(readFileSync(join(dir, f), 'utf8')))
    .sort()
    .map((f) => `test/${f}`);
}

function missingReferenceTools(): { command: string; install: string }[] {
  const missing = TOOLS.filter((tool) => findTool(tool.command) === undefined);
  const python = '/usr/bin/python3';
  if (findTool(python) === undefined)
    return [
      ...missing,
      { command: python, install: `apt-get install python3 ${PYTHON_MODULES.map((m) => m.install.split(' ').at(-1)).join(' ')}` },
    ];
  for (const m of PYTHON_MODULES) {
    const r = spawnSync(python, ['-c', `import ${m.module}`], { stdio: 'ignore' });
    if (r.status !== 0) missing.push({ command: `${python} -c "import ${m.module}"`, install: m.install });
  }
  return missing;
}

/** Runs tap on `files` (no coverage: that is `npm test`'s), returning its exit status. */
function tap(files: string[], env: Record<string, string>): number {
  const bin = join(ROOT, 'node_modules/.bin/tap');
  const r = spawnSync(bin, ['--disable-coverage', ...files], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function bytesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .reduce((sum, d) => sum + statSync(join(d.parentPath, d.name)).size, 0);
}

function needTools(suite: string): void {
  const verdict = missingToolsVerdict(missingReferenceTools());
  if (verdict === undefined) return;
  console.log(`${suite}: ${verdict.message}`);
  process.exit(verdict.fail ? 1 : 0);
}

/**
 * `tap build` when tap's plugin set is not the configured one (package.json "tap": without @tapjs/typescript, so
 * that Node's own type stripping runs the .ts files); a fresh `npm ci` has the default set. Skipped when already
 * built, which saves `tap build`'s 20-odd seconds on every run.
 */
function tapBuild(): void {
  const built = join(ROOT, 'node_modules/@tapjs/test/test-built/dist/esm/index.js');
  if (existsSync(built) && !readFileSync(built, 'utf8').includes('@tapjs/typescript')) return;
  const r = spawnSync(join(ROOT, 'node_modules/.bin/tap'), ['build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const [suite, ...flags] = process.argv.slice(2);
if (suite !== 'tap-build') tapBuild();
if (suite === 'tap-build') {
  tapBuild();
} else if (suite === 'reference') {
  needTools('npm run test:reference');
  process.exit(tap(referenceTestFiles(), { UNIMED_REFERENCE: 'live' }));
} else if (suite === 'fixtures') {
  const check = flags.includes('--check');
  needTools(check ? 'npm run fixtures -- --check' : 'npm run fixtures');
  const files = referenceTestFiles();
  const status = tap(files, {
    UNIMED_REFERENCE: check ? 'check' : 'record',
    ...(flags.includes('--fresh') ? { UNIMED_REFERENCE_FRESH: '1' } : {}),
  });
  if (!check) {
    // Stores of test files that no longer use one.
    const names = new Set(files.map((f) => f.slice('test/'.length, -'.test.ts'.length)));
    for (const dir of existsSync(STORE_ROOT) ? readdirSync(STORE_ROOT) : []) {
      if (!names.has(dir)) {
        rmSync(join(STORE_ROOT, dir), { recursive: true, force: true });
        console.log(`removed ${relative(ROOT, join(STORE_ROOT, dir))} (no test file uses it)`);
      }
    }
  }
  const sizes = readdirSync(STORE_ROOT).map((dir) => `${dir} ${(bytesUnder(join(STORE_ROOT, dir)) / 1e6).toFixed(2)} MB`);
  console.log(
    `test/fixtures: ${(bytesUnder(join(ROOT, 'test/fixtures')) / 1e6).toFixed(2)} MB in all; reference stores: ${sizes.join(', ')}`,
  );
  process.exit(status);
} else if (suite === 'integration') {
  const dir = join(ROOT, 'test/integration');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => `test/integration/${f}`);
  process.exit(tap(files, {}));
} else {
  console.error('usage: node test/suite.ts reference | fixtures [--check | --fresh] | integration | tap-build');
  process.exit(2);
}

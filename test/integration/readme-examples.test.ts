// Every command of README.md and docs/*.md runs as written: each shell block (```sh, ```bash) is run whole, in
// page order, against a live service on the demo model, and every command in it must exit 0 (a `curl`: a 2xx
// answer, curl --fail-with-body); the Python and TypeScript snippets of docs/clients.md run too. The blocks stay as
// written except for the service's address: `localhost:8080` becomes this test's free port (UNIMED_URL for the
// CLI and the snippets). A block that cannot run here (a container build, kubectl against a cluster, SLURM, a
// released checkpoint, installing system packages) is marked by an HTML comment on the line before it,
// `<!-- not-runnable: why -->`; NOT_RUNNABLE below lists every one, so none is skipped silently and an unmarked
// block is run. The blocks run in a scratch directory that looks like the repository root to them (examples/,
// training/, node_modules/ and package.json linked from it); they write their outputs to /tmp or mktemp. The
// docs/pacs.md requests get a real Orthanc holding the synthetic CT series they name, configured as the source
// "pacs". Needs curl, /usr/bin/python3 with numpy, Pillow and requests, and Orthanc with its DICOMweb plugin.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { Metrics } from '../../src/metrics.ts';
import { loadRegistry, PYTHON, ROOT } from '../helpers/common.ts';
import { listen } from '../helpers/http.ts';
import { startOrthanc } from '../helpers/orthanc.ts';
import type { Orthanc } from '../helpers/orthanc.ts';
import { ctSeries } from '../fixtures/dicom/ct-series.ts';
import { findTool, requireTool } from '../helpers/tools.ts';

t.setTimeout(900_000);

const ORTHANC = '/usr/sbin/Orthanc';

/** The pages whose commands must run: README.md and docs/*.md. */
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/** Every block marked not runnable here, as `page: why` (the marker's text). */
const NOT_RUNNABLE = [
  'README.md: installs the dependencies and starts the service (the examples test runs its own service)',
  'README.md: the whole test suite (minutes); CI runs it',
  'docs/deployment.md: containers (docker run)',
  'docs/deployment.md: a container build',
  'docs/deployment.md: a container build, a registry and kubectl apply against a cluster',
  'docs/deployment.md: kubectl apply against a cluster with KServe',
  'docs/development.md: installs the dependencies and starts the service (the examples test runs its own service)',
  "docs/development.md: installs system packages as root; it is .ci/run's outline",
  'docs/models.md: needs a released checkpoint and its vocabulary, which are not in the repository',
  'docs/models.md: trains for minutes and rewrites models/demo, which the test suite checks by sha256',
  'docs/models.md: DATA.csv, VOCAB, RUN and S stand for your data, vocabulary and folders',
  'docs/models.md: SLURM',
  'docs/models.md: a container build and kubectl apply',
  "docs/pacs.md: needs the recipe's Orthanc and service running",
  'docs/pacs.md: starts Orthanc and the service on fixed ports; test/integration/orthanc-sr-demo.test.ts runs it on free ones',
  'docs/pacs.md: starts Orthanc and the service on fixed ports; the examples test runs the requests below against its own Orthanc holding the same series, configured as the source "pacs"',
  'docs/performance.md: builds and compresses a 190 MiB folder (minutes); test/integration/gpu-bundle.test.ts builds and runs it',
  'docs/performance.md: runs the bundle that the block above builds (a minute on CPU); test/integration/gpu-bundle.test.ts runs it',
  'docs/runbook.md: kubectl against the cluster',
  "docs/security.md: reads the deployment's hash secret and audit log",
  'docs/security.md: reads the current and the previous hash secret and the kept audit logs',
];

interface Block {
  page: string;
  /** line number of the block's first line of code */
  line: number;
  lang: string;
  code: string;
  /** the reason given by a `<!-- not-runnable: ... -->` marker on the line before the block */
  notRunnable?: string;
}

/** Fenced code blocks of a page (indented ones too), with their language and first line number. */
function blocks(page: string): Block[] {
  const out: Block[] = [];
  const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```([\w-]*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const indent = open[1]!.length;
    const marker = /^\s*<!-- not-runnable: (.*) -->\s*$/.exec(lines[i - 1] ?? '');
    const start = i + 1;
    while (i + 1 < lines.length && !/^\s*```\s*$/.test(lines[++i]!));
    const code = lines
      .slice(start, i)
      .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
      .join('\n');
    out.push({ page, line: start + 1, lang: open[2]!, code, ...(marker === null ? {} : { notRunnable: marker[1]! }) });
  }
  return out;
}

const SHELL = new Set(['sh', 'bash', 'shell']);
const all = PAGES.flatMap(blocks);
const shellBlocks = all.filter((b) => SHELL.has(b.lang));

async function run(
  argv: string[],
  cwd: string,
  env: Record<string, string>,
  input?: string,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stdin.end(input ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, output };
}

const tail = (text: string): string => (text.length > 1500 ? '...' + text.slice(-1500) : text);

t.test('every shell block not marked is run; the marked ones are listed here', (t) => {
  t.same(
    shellBlocks.filter((b) => b.notRunnable !== undefined).map((b) => `${b.page}: ${b.notRunnable}`),
    NOT_RUNNABLE,
    'the blocks marked not runnable are exactly NOT_RUNNABLE',
  );
  t.same(
    all.filter((b) => b.notRunnable !== undefined && !SHELL.has(b.lang)).map((b) => `${b.page} line ${b.line}`),
    [],
    'only shell blocks carry the marker',
  );
  for (const b of shellBlocks.filter((b) => b.notRunnable !== undefined))
    t.pass(`not run here: ${b.page} line ${b.line} (${b.notRunnable}): ${b.code.split('\n')[0]!.slice(0, 80)}`);
  t.end();
});

t.test('the examples of README.md and docs/ run as written', async (t) => {
  if (!requireTool(t, 'curl', 'apt-get install curl')) return;
  if (!requireTool(t, PYTHON, 'apt-get install python3 python3-numpy python3-pil python3-requests')) return;
  const runnable = shellBlocks.filter((b) => b.notRunnable === undefined);
  const commands = runnable.map((b) => b.code).join('\n');
  t.ok((commands.match(/^\s*curl /gm) ?? []).length >= 20, `the pages have their curl examples (${runnable.length} blocks in all)`);
  t.ok(/npx unimed eval/.test(commands) && /npx unimed embed/.test(commands) && /npx unimed search/.test(commands), 'and the CLI examples');
  t.notOk(/(^|[;&|]\s*)open /m.test(commands), 'no macOS-only `open`');

  const work = mkdtempSync(join(tmpdir(), 'unimed-readme-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  for (const name of ['examples', 'training', 'node_modules', 'package.json']) symlinkSync(join(ROOT, name), join(work, name));

  // The docs/pacs.md requests name a source "pacs" holding the synthetic CT series.
  let orthanc: Orthanc | undefined;
  const env: Record<string, string> = {};
  if (findTool(ORTHANC) !== undefined) {
    orthanc = await startOrthanc(ORTHANC);
    t.teardown(() => orthanc!.stop());
    for (const instance of ctSeries()) await orthanc.store(instance.bytes);
    const passwordFile = join(work, 'pacs-password');
    writeFileSync(passwordFile, `${orthanc.password}\n`);
    env.DICOMWEB_SOURCES = JSON.stringify({
      pacs: { url: orthanc.dicomweb, auth: { type: 'basic', username: orthanc.username, password_file: passwordFile } },
    });
  }
  const { registry, config } = await loadRegistry(env);
  const { app, url } = await listen(config, registry, new Metrics({ defaultMetrics: false }));
  t.teardown(async () => {
    await app.close();
    await registry.close();
  });
  const address = url.replace(/^http:\/\//, '');
  const shellEnv = {
    UNIMED_URL: url,
    UNIMED_API_KEY: '',
    // mktemp -d in the examples: inside the scratch directory, removed with it
    TMPDIR: work,
    npm_config_offline: 'true',
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
  };

  for (const block of runnable) {
    await t.test(`${block.page} line ${block.line}: ${block.code.split('\n')[0]!.slice(0, 100)}`, async (t: Test) => {
      if (block.page === 'docs/pacs.md' && !requireTool(t, ORTHANC, 'apt-get install orthanc orthanc-dicomweb')) return;
      const code = block.code.replaceAll('localhost:8080', address);
      // Every command must succeed (set -e, pipefail); the trace on stderr says which one did not.
      const script = `set -eo pipefail\ncurl() { command curl --fail-with-body "$@"; }\nset -x\n${code}\n`;
      const result = await run(['bash', '-c', script], work, shellEnv);
      t.equal(result.code, 0, `exit status 0 (a curl: a 2xx answer)${result.code === 0 ? '' : `: ${tail(result.output)}`}`);
    });
  }

  await t.test('examples/ is what scripts/make-examples.py makes (pixels and DICOM attributes)', async (t: Test) => {
    const check = await run([PYTHON, join(ROOT, 'scripts/make-examples.py'), '--check'], ROOT, {});
    t.equal(check.code, 0, check.output.trim());
  });

  // Its shell blocks (the Open Inference Protocol's curl) run with the others above.
  const clients = all.filter((b) => b.page === 'docs/clients.md' && b.lang !== 'sh');
  t.equal(clients.filter((b) => b.lang === 'python').length, 1, 'one Python snippet');
  t.equal(
    clients.filter((b) => b.lang === 'ts').length,
    3,
    'three TypeScript snippets (fetch, the typed client, the OpenAI-compatible clients)',
  );
  for (const [i, snippet] of clients.entries()) {
    await t.test(`${snippet.page} line ${snippet.line}: the ${snippet.lang} client snippet`, async (t: Test) => {
      let argv: string[];
      if (snippet.lang === 'python') {
        argv = [PYTHON, '-c', snippet.code];
      } else {
        const file = join(work, `snippet-${i}.ts`);
        writeFileSync(file, snippet.code);
        argv = [process.execPath, file];
      }
      const result = await run(argv, work, shellEnv);
      t.equal(result.code, 0, `runs and exits 0${result.code === 0 ? '' : `: ${tail(result.output)}`}`);
      t.match(result.output, snippet.code.includes('predictions') ? /label/ : /\d/, 'and prints what it got');
    });
  }
});

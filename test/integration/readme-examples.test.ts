// Every example of README.md runs as written: each `curl` and `npx unimed` command of its ```sh blocks (with the
// training toolkit's `/usr/bin/python3 -m training.synthetic` lines that make their data), in README order, and
// the Python and TypeScript snippets of "Clients", against a live service on the demo model. The commands stay as
// written except for the service's address: `localhost:8080` becomes this test's free port (UNIMED_URL for the
// CLI and the snippets). A `curl` must get a 2xx (curl --fail-with-body), every command must exit 0. They run in a
// scratch directory that looks like the repository root to them (examples/, training/, node_modules/ and
// package.json linked from it), so their outputs (seen.png, tmp/...) land there. The "From your PACS" commands
// get a real Orthanc holding the synthetic CT series they name, configured as the source "pacs".
// Needs curl, /usr/bin/python3 with numpy, Pillow and requests, and Orthanc with its DICOMweb plugin.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const ORTHANC = '/usr/sbin/Orthanc';

interface Example {
  line: number;
  lang: string;
  code: string;
  /** the README section it is in (## heading) */
  section: string;
}

/** Fenced code blocks with their language, first line number and section. */
function blocks(): Example[] {
  const out: Example[] = [];
  const lines = README.split('\n');
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith('## ')) section = lines[i]!.slice(3);
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const start = i + 1;
    while (i + 1 < lines.length && !/^```\s*$/.test(lines[++i]!));
    out.push({ line: start + 1, lang: open[1]!, code: lines.slice(start, i).join('\n'), section });
  }
  return out;
}

/** The commands of the sh blocks to run: continuation lines joined, each with its README line number. */
function commands(): Example[] {
  const out: Example[] = [];
  for (const block of blocks().filter((b) => b.lang === 'sh')) {
    const lines = block.code.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = block.line + i;
      let command = lines[i]!;
      while (/\\$/.test(command) && i + 1 < lines.length) command += '\n' + lines[++i]!;
      // Quoted JSON may also continue on the next line without a backslash (the PACS examples).
      while (unbalancedQuotes(command) && i + 1 < lines.length) command += '\n' + lines[++i]!;
      const trimmed = command.trim();
      if (/^(curl |npx unimed |\/usr\/bin\/python3 -m training\.synthetic )/.test(trimmed))
        out.push({ line, lang: 'sh', code: trimmed, section: block.section });
    }
  }
  return out;
}

/** An open quote at the end (a shell comment, from an unquoted " #", is not looked into). */
function unbalancedQuotes(command: string): boolean {
  let single = false;
  let double = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === '#' && !single && !double && (i === 0 || /\s/.test(command[i - 1]!))) {
      const end = command.indexOf('\n', i);
      if (end < 0) break;
      i = end;
    } else if (c === '\\' && !single) i++;
    else if (c === "'" && !double) single = !single;
    else if (c === '"' && !single) double = !double;
  }
  return single || double;
}

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

t.test('README examples run as written', async (t) => {
  if (!requireTool(t, 'curl', 'apt-get install curl')) return;
  if (!requireTool(t, PYTHON, 'apt-get install python3 python3-numpy python3-pil python3-requests')) return;
  const found = commands();
  t.ok(found.filter((c) => c.code.startsWith('curl ')).length >= 20, `README has its curl examples (${found.length} commands in all)`);
  t.ok(
    found.some((c) => c.code.startsWith('npx unimed eval')) &&
      found.some((c) => c.code.startsWith('npx unimed embed')) &&
      found.some((c) => c.code.startsWith('npx unimed search')),
    'and the CLI examples',
  );

  const work = mkdtempSync(join(tmpdir(), 'unimed-readme-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  for (const name of ['examples', 'training', 'node_modules', 'package.json']) symlinkSync(join(ROOT, name), join(work, name));

  // The "From your PACS" examples name a source "pacs" holding the synthetic CT series.
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
    npm_config_offline: 'true',
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
  };

  for (const example of found) {
    await t.test(`README line ${example.line}: ${example.code.split('\n')[0]!.slice(0, 100)}`, async (t: Test) => {
      if (example.section === 'From your PACS' && !requireTool(t, ORTHANC, 'apt-get install orthanc orthanc-dicomweb')) return;
      const command = example.code.replaceAll('localhost:8080', address);
      const script = `set -o pipefail\ncurl() { command curl --fail-with-body "$@"; }\n${command}\n`;
      const result = await run(['bash', '-c', script], work, shellEnv);
      t.equal(result.code, 0, `exit status 0 (a curl: a 2xx answer)${result.code === 0 ? '' : `: ${tail(result.output)}`}`);
    });
  }

  await t.test('examples/ is what scripts/make-examples.py makes (pixels and DICOM attributes)', async (t: Test) => {
    const check = await run([PYTHON, join(ROOT, 'scripts/make-examples.py'), '--check'], ROOT, {});
    t.equal(check.code, 0, check.output.trim());
  });

  const clients = blocks().filter((b) => b.section === 'Clients');
  t.equal(clients.filter((b) => b.lang === 'python').length, 1, 'one Python snippet');
  t.equal(clients.filter((b) => b.lang === 'ts').length, 2, 'two TypeScript snippets (fetch, the typed client)');
  for (const [i, snippet] of clients.entries()) {
    await t.test(`README line ${snippet.line}: the ${snippet.lang} client snippet`, async (t: Test) => {
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

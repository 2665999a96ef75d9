// What the images run, run here without a container engine: the entrypoint (docker/entrypoint.sh) turns core
// dumps off and execs node as PID 1's own process (so SIGTERM reaches the drain), and the HEALTHCHECK command of
// both Dockerfiles (node's fetch; the images have no curl) says healthy only for a ready service.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Metrics } from '../../src/metrics.ts';
import { loadRegistry, ROOT } from '../helpers/common.ts';
import { DOCKERFILES, healthcheckCommand } from '../helpers/dockerfile.ts';
import { listen } from '../helpers/http.ts';

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; pid: number | undefined }> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, pid: child.pid })));
}

t.test(
  'the entrypoint sets the core-dump limit to 0 and execs node with the service flags',
  { skip: process.platform !== 'linux' && 'reads /proc' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'unimed-entrypoint-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'dist'));
    // Stands in for the built service: reports what the process was started with.
    writeFileSync(
      join(dir, 'dist/server.js'),
      "const core = require('fs').readFileSync('/proc/self/limits', 'utf8').split('\\n').find((l) => l.startsWith('Max core file size'));\n" +
        'console.log(JSON.stringify({ pid: process.pid, core: core.split(/\\s{2,}/).slice(1, 3), execArgv: process.execArgv, argv: process.argv.slice(2) }));\n',
    );
    writeFileSync(join(dir, 'package.json'), '{"type": "commonjs"}');
    // Core dumps allowed before the entrypoint runs (soft limit raised), so the test sees the entrypoint lower it.
    const result = await run('/bin/sh', ['-c', 'ulimit -c 1024 && exec /bin/sh "$0" "$@"', join(ROOT, 'docker/entrypoint.sh'), '--extra'], {
      cwd: dir,
    });
    t.equal(result.code, 0);
    const seen = JSON.parse(result.stdout) as { pid: number; core: string[]; execArgv: string[]; argv: string[] };
    t.same(seen.core, ['0', '0'], 'core file size: soft and hard limit 0');
    t.equal(seen.pid, result.pid, 'node replaced the shell (exec): it is the process the container runtime signals');
    t.same(seen.execArgv, ['--max-semi-space-size=16'], 'with the flag npm start uses');
    t.same(seen.argv, ['--extra'], 'and the container arguments passed on');
    // The images run it directly (exec-form ENTRYPOINT): COPY keeps the mode git checked out.
    t.ok(statSync(join(ROOT, 'docker/entrypoint.sh')).mode & 0o111, 'docker/entrypoint.sh is executable');
  },
);

t.test('the HEALTHCHECK of both images: healthy when ready, unhealthy while starting or unreachable', async (t) => {
  const commands = Object.values(DOCKERFILES).map((dockerfile) => healthcheckCommand(readFileSync(join(ROOT, dockerfile), 'utf8')));
  t.same(commands[1], commands[0], 'both images check the same way');
  const [program, ...args] = commands[0]!;
  t.equal(program, 'node', 'run by node (the images have no curl)');
  const check = async (port: number) => (await run(process.execPath, args, { env: { PORT: String(port) } })).code;

  const { registry, config } = await loadRegistry();
  t.teardown(() => registry.close());
  const ready = await listen(config, registry, new Metrics({ defaultMetrics: false }));
  t.teardown(() => ready.app.close());
  const starting = await listen(config, undefined, new Metrics({ defaultMetrics: false }));
  const startingPort = Number(new URL(starting.url).port);
  t.equal(await check(Number(new URL(ready.url).port)), 0, 'exit 0 against a ready service');
  t.equal(await check(startingPort), 1, 'exit 1 while the models load (/readyz 503)');
  await starting.app.close();
  t.equal(await check(startingPort), 1, 'exit 1 when nothing listens');
});

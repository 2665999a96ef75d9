// What the images run, run here without a container engine: the entrypoint (docker/entrypoint.sh) turns core
// dumps off and execs node as PID 1's own process (so SIGTERM reaches the drain), and the HEALTHCHECK command of
// both Dockerfiles (node's fetch; the images have no curl) says healthy only for a ready service, also where
// ALLOWED_HOSTS names only an ingress. The images' HOST=0.0.0.0 starts only with API keys or the operator's
// ALLOW_UNAUTHENTICATED_NETWORK=true, which neither image sets.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import { Metrics } from '../../src/metrics.ts';
import { loadRegistry, ROOT } from '../helpers/common.ts';
import { DOCKERFILES, healthcheckCommand, imageEnv } from '../helpers/dockerfile.ts';
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

t.test('the HEALTHCHECK passes where ALLOWED_HOSTS names only an ingress (it calls 127.0.0.1, an address /readyz answers)', async (t) => {
  const [, ...args] = healthcheckCommand(readFileSync(join(ROOT, DOCKERFILES['unimed-serve:cpu']!), 'utf8'));
  const { registry, config } = await loadRegistry({ ALLOWED_HOSTS: 'unimed.hospital.example', API_KEYS: 'ops:ops-key-0123456789abcdef' });
  t.teardown(() => registry.close());
  const ready = await listen(config, registry, new Metrics({ defaultMetrics: false }));
  t.teardown(() => ready.app.close());
  t.equal((await run(process.execPath, args, { env: { PORT: new URL(ready.url).port } })).code, 0, 'healthy');
});

t.test("the images' HOST=0.0.0.0 needs API keys or the operator's opt-in; neither image sets the opt-in", async (t) => {
  for (const [image, dockerfile] of Object.entries(DOCKERFILES)) {
    const env = imageEnv(readFileSync(join(ROOT, dockerfile), 'utf8'));
    t.equal(env.HOST, '0.0.0.0', `${image}: listens on every interface of the container`);
    t.equal(env.ALLOW_UNAUTHENTICATED_NETWORK, undefined, `${image}: no opt-in`);
    t.equal(env.ALLOWED_HOSTS, undefined, `${image}: no ALLOWED_HOSTS`);
    t.notOk(env.API_KEYS ?? env.API_KEYS_FILE, `${image}: no keys`);
    t.throws(() => loadConfig(env, ROOT), { name: 'ConfigError', message: /^HOST=0\.0\.0\.0 would let other machines call every route/ });
    t.equal(loadConfig({ ...env, API_KEYS: 'ops:ops-key-0123456789abcdef' }, ROOT).host, '0.0.0.0', `${image}: with a key`);
    t.equal(loadConfig({ ...env, ALLOW_UNAUTHENTICATED_NETWORK: 'true' }, ROOT).host, '0.0.0.0', `${image}: with the opt-in`);
  }
  // The entry point itself, in the image's environment: exit 2 with the reason, before listening or loading anything.
  const env = imageEnv(readFileSync(join(ROOT, DOCKERFILES['unimed-serve:cpu']!), 'utf8'));
  const child = spawn(process.execPath, ['src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  t.equal(code, 2, 'refused at start');
  t.match(
    stderr,
    /^configuration error: HOST=0\.0\.0\.0 .*no API key is configured: set API_KEYS_FILE or API_KEYS, or ALLOW_UNAUTHENTICATED_NETWORK=true/,
  );
});

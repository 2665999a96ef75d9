// `npm start` as the README runs it (prestart builds, then the server on the demo model), stopped the way a
// terminal or a process manager stops it: SIGTERM (or SIGINT, what Ctrl-C sends) to npm's own process. The server
// must stop with it: its process gone and its port closed, not a node left running after npm exits. Needs npm
// on PATH and the repository's node_modules; slow because prestart runs tsc.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { ROOT, until } from '../helpers/common.ts';
import { requireTool } from '../helpers/tools.ts';

t.setTimeout(300_000);

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** The pids below `pid` (children, their children, ...), from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return out;
  for (const child of readFileSync(file, 'utf8').split(' ').filter(Boolean).map(Number)) out.push(child, ...descendants(child));
  return out;
}

const commandLine = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
};

/** Alive and not a zombie (a zombie has exited; only its parent has not collected it yet). */
function running(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function portOpen(port: number): Promise<boolean> {
  const socket = createConnection({ host: '127.0.0.1', port });
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

async function stopsWith(t: Test, signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
  const npmPath = requireTool(t, 'npm', 'npm 11, which comes with Node 24');
  if (npmPath === undefined) return;
  const port = await freePort();
  const npm = spawn(npmPath, ['start'], {
    cwd: ROOT,
    // No HOST and no keys, as the README runs it: the service listens on 127.0.0.1 by default.
    env: {
      ...process.env,
      PORT: String(port),
      HOST: undefined,
      API_KEYS: undefined,
      API_KEYS_FILE: undefined,
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_MS: '5000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  npm.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = once(npm, 'exit');
  t.teardown(() => {
    if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
  });

  await until(
    `npm start serving on port ${port}`,
    async () => {
      if (npm.exitCode !== null) throw new Error(`npm start exited early (${npm.exitCode}): ${output.slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true;
    },
    240_000,
  );
  // The deepest process running dist/server.js is node itself (a shell between npm and node names it too).
  const server = descendants(npm.pid!)
    .filter((pid) => commandLine(pid).includes('dist/server.js'))
    .at(-1);
  t.ok(server, `the server runs below npm (pid ${server})`);

  t.ok(process.kill(npm.pid!, signal), `${signal} sent to npm (pid ${npm.pid}), not to the server`);
  await exited;
  t.pass(`npm exited (${npm.exitCode ?? npm.signalCode})`);
  await until(`the server process ${server} to end`, () => !running(server!), 30_000);
  t.notOk(running(server!), 'the server process is gone');
  t.notOk(await portOpen(port), `port ${port} is closed`);
}

t.test('SIGTERM to npm start stops the server', (t) => stopsWith(t, 'SIGTERM'));
t.test('SIGINT (Ctrl-C) to npm start stops the server', (t) => stopsWith(t, 'SIGINT'));

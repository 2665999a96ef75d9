/**
 * The service as its own process (`node src/server.ts`), for tests that kill it: started with an environment,
 * waited for on /readyz (a condition, not a sleep), killed with any signal, its output kept in a file for a failing
 * test's message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO, freePort, ROOT, until } from './common.ts';

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** Kills the process with `signal` and waits for it to end. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** The process's output so far. */
  output(): string;
}

/** Starts the service with the demo model and `env`; `logFile` collects its stdout and stderr. */
export async function startService(env: Record<string, string>, logFile: string): Promise<ServiceProcess> {
  const port = await freePort();
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [join(ROOT, 'src/server.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      MODEL_DIRS: DEMO,
      WORKERS_PER_ENCODER: '1',
      INTRA_OP_THREADS: '1',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...env,
    },
    stdio: ['ignore', log, log],
  });
  const exited = once(child, 'exit');
  const output = () => readFileSync(logFile, 'utf8');
  const url = `http://127.0.0.1:${port}`;
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
  };
  try {
    await until(
      `the service on port ${port} to be ready`,
      async () => {
        if (child.exitCode !== null) throw new Error(`the service exited at start (${child.exitCode}): ${output().slice(-2000)}`);
        return (await fetch(`${url}/readyz`).catch(() => undefined))?.ok === true;
      },
      120_000,
    );
  } catch (error) {
    await kill('SIGKILL');
    throw error;
  }
  return { url, child, kill, output };
}

/**
 * libuv's thread pool runs sharp's decode and resize of every 8-bit image (and file and crypto work): at libuv's
 * default of 4 threads, a 16-CPU quota would decode on 4 of them while images wait (docs/performance.md "The front
 * end's own limit"). Unless the variable is set, it is sized here to the CPU quota, at least libuv's 4. libuv reads
 * it when the pool first starts, so this module is the first that src/server.ts imports.
 */
import { cpuQuota } from '../cpu-quota.ts';

/** Sets `env.UV_THREADPOOL_SIZE` to max(4, CPU quota) when it is unset; returns the value in force. */
export function sizeThreadpool(env: NodeJS.ProcessEnv = process.env, cpus = cpuQuota()): string {
  if (env.UV_THREADPOOL_SIZE === undefined || env.UV_THREADPOOL_SIZE.trim() === '') {
    // libuv caps the pool at 1024 threads.
    env.UV_THREADPOOL_SIZE = String(Math.min(1024, Math.max(4, cpus)));
  }
  return env.UV_THREADPOOL_SIZE;
}

sizeThreadpool();

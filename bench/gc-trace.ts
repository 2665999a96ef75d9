/**
 * A preload for the service that records, on its HTTP thread, every garbage collection and every stall of the
 * event loop over 10 ms, and writes a summary per 10 s window when the service exits:
 *
 *   BENCH_SERVICE_NODE_FLAGS="--import ./bench/gc-trace.ts" node bench/hostile.ts
 *
 * Writes bench/results/gc-trace-PID.md: per window, scavenges, full collections (and their longest pause), the
 * highest `process.memoryUsage().arrayBuffers` seen after a collection, and the stalls. How the full collections of
 * issue 26 were found (docs/decisions.md, "Buffers that outlived V8's scavenges").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const WINDOW_MS = 10_000;
const TICK_MS = 5;
const STALL_MS = 10;

interface Window {
  scavenges: number;
  full: number;
  longestFullMs: number;
  arrayBuffersMB: number;
  stalls: number;
  longestStallMs: number;
}

if (isMainThread) {
  const windows = new Map<number, Window>();
  const at = (time: number): Window => {
    const key = Math.floor(time / WINDOW_MS);
    let window = windows.get(key);
    if (window === undefined) {
      window = { scavenges: 0, full: 0, longestFullMs: 0, arrayBuffersMB: 0, stalls: 0, longestStallMs: 0 };
      windows.set(key, window);
    }
    return window;
  };
  new PerformanceObserver((list) => {
    const arrayBuffersMB = process.memoryUsage().arrayBuffers / 1e6;
    for (const entry of list.getEntries()) {
      const window = at(entry.startTime);
      const { kind } = (entry as unknown as { detail: { kind: number } }).detail;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) window.scavenges++;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        window.full++;
        window.longestFullMs = Math.max(window.longestFullMs, entry.duration);
      }
      window.arrayBuffersMB = Math.max(window.arrayBuffersMB, arrayBuffersMB);
    }
  }).observe({ entryTypes: ['gc'] });

  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const late = now - last - TICK_MS;
    last = now;
    if (late > STALL_MS) {
      const window = at(now);
      window.stalls++;
      window.longestStallMs = Math.max(window.longestStallMs, late);
    }
  }, TICK_MS).unref();

  process.on('exit', () => {
    const rows = [...windows.entries()]
      .sort(([a], [b]) => a - b)
      .map(
        ([key, w]) =>
          `| ${(key * WINDOW_MS) / 1000}-${((key + 1) * WINDOW_MS) / 1000} | ${w.scavenges} | ${w.full} | ${w.longestFullMs.toFixed(1)} | ${w.arrayBuffersMB.toFixed(1)} | ${w.stalls} | ${w.longestStallMs.toFixed(1)} |`,
      );
    const dir = new URL('results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      new URL(`gc-trace-${process.pid}.md`, dir),
      [
        `GC and event-loop stalls of the service's HTTP thread (pid ${process.pid}), per ${WINDOW_MS / 1000} s since start.`,
        '',
        `| s | scavenges | full collections | longest full, ms | arrayBuffers after a GC, max MB | stalls > ${STALL_MS} ms | longest stall, ms |`,
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...rows,
        '',
      ].join('\n'),
    );
  });
}

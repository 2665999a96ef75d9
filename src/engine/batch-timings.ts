import { performance } from 'node:perf_hooks';
import type { Cancellation } from './request-group.ts';

/** Tells each submission in `batch` that asked (Cancellation.onBatch) when its items were queued, started and ended. */
export function reportTimings(
  batch: readonly { enqueuedAt: number; onBatch: Cancellation['onBatch'] }[],
  startedAt: number,
  endedAt: number,
): void {
  const queuedAt = new Map<NonNullable<Cancellation['onBatch']>, number>();
  for (const { onBatch, enqueuedAt } of batch) {
    if (onBatch !== undefined) queuedAt.set(onBatch, Math.min(queuedAt.get(onBatch) ?? Infinity, enqueuedAt));
  }
  const origin = performance.timeOrigin;
  for (const [report, at] of queuedAt) report({ queuedAt: origin + at, startedAt: origin + startedAt, endedAt: origin + endedAt });
}

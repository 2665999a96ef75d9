/** The durable jobs' metric families (docs/operations.md "Jobs"), on the service's registry. */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the jobs' gauges show: jobs per status, and when the oldest queued one was created (epoch ms). */
export interface JobsSummary {
  counts: Record<string, number>;
  oldestQueuedAt: number | undefined;
}

export class JobMetrics {
  readonly byStatus: Gauge<'status'>;
  readonly oldestQueued: Gauge;
  readonly settled: Counter<'status'>;
  /** Where the gauges are read from at each scrape (set by the jobs' plugin; absent without jobs). */
  #summary: (() => Promise<JobsSummary>) | undefined;

  constructor(registry: Registry) {
    this.byStatus = new Gauge({
      name: 'unimed_jobs',
      help: 'Durable jobs by status (queued, running, done, failed) in the job store, read at each scrape; replicas sharing a store report the same figures.',
      labelNames: ['status'] as const,
      registers: [registry],
      // Registered before unimed_jobs_oldest_queued_seconds, so one read of the store sets both in the same scrape.
      collect: () => this.#collect(),
    });
    this.oldestQueued = new Gauge({
      name: 'unimed_jobs_oldest_queued_seconds',
      help: 'Age of the oldest queued job (0 when none is queued), read at each scrape.',
      registers: [registry],
    });
    this.settled = new Counter({
      name: 'unimed_jobs_settled_total',
      help: 'Jobs this process settled, by status (done, failed); both start at 0 with jobs enabled.',
      labelNames: ['status'] as const,
      registers: [registry],
    });
  }

  /** Reads the gauges from `summary` at each scrape from now on. */
  observe(summary: () => Promise<JobsSummary>): void {
    this.#summary = summary;
    for (const status of ['done', 'failed']) this.settled.inc({ status }, 0);
  }

  async #collect(): Promise<void> {
    if (this.#summary === undefined) return;
    try {
      const { counts, oldestQueuedAt } = await this.#summary();
      for (const [status, count] of Object.entries(counts)) this.byStatus.set({ status }, count);
      this.oldestQueued.set(oldestQueuedAt === undefined ? 0 : Math.max(0, (Date.now() - oldestQueuedAt) / 1000));
    } catch {
      // The store is unreachable: the gauges drop out of this scrape rather than show stale figures.
      this.byStatus.reset();
      this.oldestQueued.reset();
    }
  }
}

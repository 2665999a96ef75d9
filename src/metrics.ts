import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * The service's Prometheus metric families, on a registry of their own so that several app instances (tests)
 * never share counters. Label names are fixed here; callers only supply values.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by route template, method and status code.',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: 'unimed_batch_size',
    help: 'Number of items in each inference batch.',
    labelNames: ['model', 'encoder'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });

  readonly queueWait = new Histogram({
    name: 'unimed_queue_wait_seconds',
    help: 'Time an item waited in the batcher queue before its batch started.',
    labelNames: ['model', 'encoder'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly inferenceDuration = new Histogram({
    name: 'unimed_inference_seconds',
    help: 'Time a worker spent running one batch through the ONNX session.',
    labelNames: ['model', 'encoder'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'unimed_queue_depth',
    help: 'Items waiting in the batcher queue.',
    labelNames: ['model', 'encoder'] as const,
    registers: [this.registry],
  });

  readonly inflightBatches = new Gauge({
    name: 'unimed_inflight_batches',
    help: 'Batches currently running in inference workers.',
    labelNames: ['model', 'encoder'] as const,
    registers: [this.registry],
  });

  readonly textCacheHits = new Counter({
    name: 'unimed_text_cache_hits_total',
    help: 'Text embeddings served from the cache.',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  readonly textCacheMisses = new Counter({
    name: 'unimed_text_cache_misses_total',
    help: 'Text embeddings that had to be computed.',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  readonly requestsRejected = new Counter({
    name: 'unimed_requests_rejected_total',
    help: 'Requests answered without a result before any of their work reached a worker, by reason (not_ready, shutting_down, queue_full, deadline, client_gone); each request once.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly requestsFailed = new Counter({
    name: 'unimed_requests_failed_total',
    help: 'Requests whose work reached a worker and failed, by reason (worker_failed, inference_failed, deadline, client_gone); each request once.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly modelInfo = new Gauge({
    name: 'unimed_model_info',
    help: 'Served models: always 1, labelled with the model id, its sha256 and the execution provider in use.',
    labelNames: ['model', 'sha256', 'provider'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client names these three gauges with a counter's `_total` suffix, which `promtool check metrics`
      // rejects; the per-type gauges `nodejs_active_handles` / `_requests` / `_resources` carry the same data.
      for (const name of GAUGES_NAMED_LIKE_COUNTERS) this.registry.removeSingleMetric(name);
    }
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { JobMetrics } from './job-metrics.ts';

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
    help: 'Requests answered without a result before any of their work reached a worker, by reason (not_ready, shutting_down, overloaded, queue_full, deadline, client_gone, or the code of a limit it broke, e.g. too_many_tokens); each request once.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly requestsFailed = new Counter({
    name: 'unimed_requests_failed_total',
    help: 'Requests whose work reached a worker and failed, by reason (worker_failed, inference_failed, deadline, client_gone); each request once.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly workerRestarts = new Counter({
    name: 'unimed_worker_restarts_total',
    help: 'Inference workers replaced, by model, encoder and reason (crashed, timed_out: hung past its limit, start_failed: a replacement that could not start).',
    labelNames: ['model', 'encoder', 'reason'] as const,
    registers: [this.registry],
  });

  readonly requestsInProgress = new Gauge({
    name: 'unimed_requests_in_progress',
    help: 'Inference requests admitted and not yet answered (bounded by MAX_INFLIGHT_REQUESTS).',
    registers: [this.registry],
  });

  readonly memoryReservedBytes = new Gauge({
    name: 'unimed_memory_reserved_bytes',
    help: 'Bytes image decodes hold now from the memory budget (each decode reserves its worst case from its header).',
    registers: [this.registry],
  });

  readonly memoryBudgetBytes = new Gauge({
    name: 'unimed_memory_budget_bytes',
    help: 'The memory budget image decodes share (MEMORY_BUDGET_BYTES, or sized from the cgroup limit at ready).',
    registers: [this.registry],
  });

  readonly modelInfo = new Gauge({
    name: 'unimed_model_info',
    help: 'Served models: always 1, labelled with the model id, its sha256, the execution provider in use and the one asked for first (EXECUTION_PROVIDERS).',
    labelNames: ['model', 'sha256', 'provider', 'requested_provider'] as const,
    registers: [this.registry],
  });

  readonly modelLoadStepSeconds = new Gauge({
    name: 'unimed_model_load_step_seconds',
    help: "Seconds each step of a model's last load took (verify_files, <encoder>_read, _hash, _session, _warmup, encoders, golden, prompt_sets, total); steps overlap.",
    labelNames: ['model', 'step'] as const,
    registers: [this.registry],
  });

  readonly dicomwebRequests = new Counter({
    name: 'unimed_dicomweb_requests_total',
    help: 'Requests sent to a DICOMweb source (QIDO-RS, WADO-RS and STOW-RS), by source name.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly dicomwebFailures = new Counter({
    name: 'unimed_dicomweb_failures_total',
    help: 'DICOMweb requests that failed, by source and reason (unreachable, refused, status, malformed, timeout, deadline, too_large, client_gone); not found is no failure.',
    labelNames: ['source', 'reason'] as const,
    registers: [this.registry],
  });

  readonly dicomwebBytes = new Counter({
    name: 'unimed_dicomweb_received_bytes_total',
    help: 'Body bytes received from a DICOMweb source.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly dicomwebWaiting = new Gauge({
    name: 'unimed_dicomweb_waiting',
    help: 'Requests waiting for a DICOMweb source because it already has its `concurrency` requests running.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly dicomwebDuration = new Histogram({
    name: 'unimed_dicomweb_request_seconds',
    help: 'Duration of one request to a DICOMweb source, from sending to the whole answer (or the failure).',
    labelNames: ['source'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly srStores = new Counter({
    name: 'unimed_sr_stores_total',
    help: 'DICOM SRs stored in a DICOMweb source (STOW-RS), by destination and outcome (stored, already_stored: the source held it, failed).',
    labelNames: ['destination', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly watchPolls = new Counter({
    name: 'unimed_watch_polls_total',
    help: 'Polls of a watch (service/jobs/watch.ts), by watch name and outcome (began, ok, truncated, source_failed, limited, refused, failed).',
    labelNames: ['watch', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly watchJobsCreated = new Counter({
    name: 'unimed_watch_jobs_created_total',
    help: 'Jobs a watch created for studies it saw first after it began, by watch name.',
    labelNames: ['watch'] as const,
    registers: [this.registry],
  });

  // Output quality (service/output-quality.ts): labels are the model id, the configured prompt set's name (or
  // `inline` for labels sent with the request) and an abstention reason; never a label's text.
  readonly topProbability = new Histogram({
    name: 'unimed_top_probability',
    help: 'Probability of the first prediction of each classification answer, by model and prompt set (inline: labels sent with the request).',
    labelNames: ['model', 'prompt_set'] as const,
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
    registers: [this.registry],
  });

  readonly probabilityMargin = new Histogram({
    name: 'unimed_probability_margin',
    help: 'Difference between the first and second probabilities of each classification answer with two labels or more.',
    labelNames: ['model', 'prompt_set'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
    registers: [this.registry],
  });

  readonly oodScoreRatio = new Histogram({
    name: 'unimed_ood_score_ratio',
    help: "Out-of-distribution score of each classified image divided by the calibration's threshold (above 1: out of distribution).",
    labelNames: ['model', 'prompt_set'] as const,
    buckets: [0.25, 0.5, 0.75, 1, 1.5, 2, 4, 8, 16],
    registers: [this.registry],
  });

  readonly answers = new Counter({
    name: 'unimed_answers_total',
    help: 'Classification answers (one per image of /classify and /classify/series), abstentions included.',
    labelNames: ['model', 'prompt_set'] as const,
    registers: [this.registry],
  });

  readonly abstentions = new Counter({
    name: 'unimed_abstentions_total',
    help: 'Classification answers that abstained, by reason (out_of_distribution, low_confidence); both reasons start at 0.',
    labelNames: ['model', 'prompt_set', 'reason'] as const,
    registers: [this.registry],
  });

  readonly embeddingDrift = new Gauge({
    name: 'unimed_embedding_drift',
    help: "Mean out-of-distribution score / threshold over the model's last DRIFT_WINDOW classified images (1: the average image sits at the abstention threshold).",
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  readonly embeddingDriftImages = new Gauge({
    name: 'unimed_embedding_drift_images',
    help: 'Images unimed_embedding_drift averages over now (up to DRIFT_WINDOW; fewer after a start).',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  /** The durable jobs' metrics (docs/operations.md "Jobs"). */
  readonly jobs = new JobMetrics(this.registry);

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client names these three gauges with a counter's `_total` suffix, which `promtool check metrics`
      // rejects; the per-type gauges `nodejs_active_handles` / `_requests` / `_resources` carry the same data.
      for (const name of GAUGES_NAMED_LIKE_COUNTERS) this.registry.removeSingleMetric(name);
    }
  }
}

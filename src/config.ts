import { resolve } from 'node:path';
import { cpuQuota } from './cpu-quota.ts';
import { dicomwebConfig, type DicomwebConfig } from './config/dicomweb.ts';
import { boolean, ConfigError, duration, type Env, integer, list, MAX_TIMEOUT_MS, path, text } from './config/env.ts';
import { jobsConfig, type JobsConfig } from './config/jobs.ts';
import { limitsConfig, type LimitsConfig } from './config/limits.ts';
import { memoryConfig, type MemoryConfig } from './config/memory.ts';
import { listenHost } from './config/hosts.ts';
import { keysAtStart, securityConfig, type SecurityConfig } from './config/security.ts';
import { telemetryConfig, type TelemetryConfig } from './config/telemetry.ts';
import { watchesConfig, type WatchConfig } from './config/watches.ts';

export { ConfigError } from './config/env.ts';

/** Execution providers the service knows how to ask onnxruntime-node for, in the user's order of preference. */
export const KNOWN_PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type ProviderName = (typeof KNOWN_PROVIDERS)[number];

export type EncoderKind = 'image' | 'text';

export interface BatchingConfig {
  /** Largest batch sent to a worker. */
  maxBatchSize: number;
  /** How long the first item of a batch may wait for company. */
  maxDelayMs: number;
  /** Images (image encoder) or tokens (text encoder) waiting at most; past it requests get 503. */
  maxQueue: number;
}

/** Connection-level limits (names start HTTP_ so they are not taken for REQUEST_TIMEOUT_MS, the inference deadline). */
export interface HttpConfig {
  /** The whole request (headers and body) must arrive within this, else 408 (Node's requestTimeout). */
  requestTimeoutMs: number;
  /** The headers must arrive within this, else 408 (Node's headersTimeout); at most requestTimeoutMs. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this; must outlast any load balancer's idle timeout. */
  keepAliveTimeoutMs: number;
  /** Socket inactivity while a request is open (Fastify's connectionTimeout); 0 = none. */
  connectionTimeoutMs: number;
  /** After an answer sent before the body arrived: how long, and how many bytes, to read and discard. */
  lingerMs: number;
  lingerBytes: number;
}

export type TrustPolicy = 'abstain' | 'report' | 'off';
const TRUST_POLICIES: readonly TrustPolicy[] = ['abstain', 'report', 'off'];

function trustPolicy(env: Env): TrustPolicy {
  const value = text(env, 'TRUST_POLICY') ?? 'abstain';
  if (!(TRUST_POLICIES as readonly string[]).includes(value))
    throw new ConfigError(`TRUST_POLICY must be one of ${TRUST_POLICIES.join(', ')}, not "${value}"`);
  return value as TrustPolicy;
}

export interface Config {
  /** HOST: the listen address; 127.0.0.1 by default without API keys (config/hosts.ts). */
  host: string;
  port: number;
  logLevel: string;
  modelDirs: string[];
  promptSetsFile: string | undefined;
  executionProviders: ProviderName[];
  /** Worker threads per model encoder, each with its own ONNX session. */
  workersPerEncoder: number;
  /** onnxruntime intra-op threads per session. */
  intraOpThreads: number;
  /** Whether idle intra-op threads spin (onnxruntime's default) instead of yielding their core to decoding and HTTP. */
  ortSpinning: boolean;
  batching: Record<EncoderKind, BatchingConfig>;
  /** Per-request deadline: past it the request gets 504 instead of running late. */
  requestTimeoutMs: number;
  /** A worker that holds a batch longer than this is considered hung and replaced. */
  workerTimeoutMs: number;
  textCacheBytes: number;
  /**
   * TEXT_CACHE_SHARED: one text-embedding cache for all API keys. Off (the default), each key has its own
   * partition, so that no key can tell by timing or counters what another recently sent (docs/security.md).
   */
  textCacheShared: boolean;
  /**
   * TRUST_POLICY (docs/trust.md), for models with a calibration: `abstain` (the default) declines to name a label
   * for an image unlike the calibration images; `report` gives the scores but always answers; `off` uses no calibration.
   */
  trustPolicy: TrustPolicy;
  /** Threads that parse, decode and window DICOM and wide PNG/TIFF, off the HTTP thread. */
  decoderThreads: number;
  /** A decode running longer than this (from when a thread takes it) is taken for a hang: 422, thread replaced. */
  decoderTimeoutMs: number;
  /** Decodes waiting for a decoder thread at most; past it 503 queue_full. */
  decoderMaxQueue: number;
  /** JSON bodies of this many bytes or more are parsed (and their base64 images decoded) on the decoder threads. */
  jsonWorkerMinBytes: number;
  shutdownGraceMs: number;
  http: HttpConfig;
  /** DICOMweb sources a request may name (config/dicomweb.ts). */
  dicomweb: DicomwebConfig;
  /** Durable classification jobs (config/jobs.ts). */
  jobs: JobsConfig;
  /** Watches of sources that create jobs for new studies (config/watches.ts). */
  watches: WatchConfig[];
  /** The decode memory budget (config/memory.ts). */
  memory: MemoryConfig;
  /** API keys, CORS, TLS, the metrics listener, the audit log (config/security.ts). */
  security: SecurityConfig;
  /** Trace span export over OTLP (config/telemetry.ts). */
  telemetry: TelemetryConfig;
  /** Every limit on requests: bodies, texts, tokens, images, pixels, bytes, requests in progress, series (config/limits.ts). */
  limits: LimitsConfig;
}

/** Measured with `npm run bench` (docs/performance.md). */
const DEFAULT_ORT_SPINNING = false;

function providers(env: Env): ProviderName[] {
  const names = list(env, 'EXECUTION_PROVIDERS', ['cpu']).map((s) => s.toLowerCase());
  for (const name of names) {
    if (!(KNOWN_PROVIDERS as readonly string[]).includes(name)) {
      throw new ConfigError(`EXECUTION_PROVIDERS: unknown provider "${name}" (known: ${KNOWN_PROVIDERS.join(', ')})`);
    }
  }
  return names as ProviderName[];
}

function httpConfig(env: Env, bodyBytes: number, requestTimeoutMs: number): HttpConfig {
  const httpRequestTimeoutMs = duration(env, 'HTTP_REQUEST_TIMEOUT_MS', 60_000, 1);
  const headersTimeoutMs = duration(env, 'HTTP_HEADERS_TIMEOUT_MS', Math.min(60_000, httpRequestTimeoutMs), 1);
  if (headersTimeoutMs > httpRequestTimeoutMs) {
    throw new ConfigError(
      `HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${httpRequestTimeoutMs})`,
    );
  }
  // While inference runs (up to REQUEST_TIMEOUT_MS) the socket is silent: an idle limit below that would cut it.
  const connectionTimeoutMs = duration(
    env,
    'HTTP_CONNECTION_TIMEOUT_MS',
    Math.min(MAX_TIMEOUT_MS, Math.max(120_000, 2 * requestTimeoutMs)),
    0,
  );
  if (connectionTimeoutMs !== 0 && connectionTimeoutMs <= requestTimeoutMs) {
    throw new ConfigError(
      `HTTP_CONNECTION_TIMEOUT_MS (${connectionTimeoutMs}) must be 0 or more than REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  }
  return {
    requestTimeoutMs: httpRequestTimeoutMs,
    headersTimeoutMs,
    // Above the idle timeouts of common load balancers (AWS ALB 60 s, Google Cloud's 600 s to backends).
    keepAliveTimeoutMs: duration(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 650_000, 1),
    connectionTimeoutMs,
    lingerMs: duration(env, 'HTTP_LINGER_MS', 30_000, 0),
    lingerBytes: integer(env, 'HTTP_LINGER_BYTES', 8 * bodyBytes, 0),
  };
}

/**
 * The text queue is bounded in tokens: by default four requests at MAX_TOKENS_PER_REQUEST (docs/performance.md:
 * some 8 s of the bench model's work each), and never below one.
 */
function textQueueTokens(env: Env, tokensPerRequest: number): number {
  if (text(env, 'TEXT_MAX_QUEUE') !== undefined) {
    throw new ConfigError('TEXT_MAX_QUEUE is gone: the text queue is bounded in tokens now (TEXT_MAX_QUEUE_TOKENS)');
  }
  const tokens = integer(env, 'TEXT_MAX_QUEUE_TOKENS', 4 * tokensPerRequest, 1, 1_000_000_000);
  if (tokens < tokensPerRequest) {
    throw new ConfigError(
      `TEXT_MAX_QUEUE_TOKENS (${tokens}) must be at least MAX_TOKENS_PER_REQUEST (${tokensPerRequest}): a request within its budget must fit the queue`,
    );
  }
  return tokens;
}

/**
 * Reads the whole configuration from the environment once, validating every value, so a typo fails at start
 * with a message that names the variable instead of surfacing later as odd behaviour. Defaults are sized from
 * the CPU quota the process really has.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const cpus = cpuQuota();
  const workersPerEncoder = integer(env, 'WORKERS_PER_ENCODER', 1, 1, 64);
  const requestTimeoutMs = duration(env, 'REQUEST_TIMEOUT_MS', 30_000, 1);
  const port = integer(env, 'PORT', 8080, 0, 65535);
  const memory = memoryConfig(env);
  const limits = limitsConfig(env, memory.budgetBytes);
  const security = securityConfig(env, cwd, port);
  const dicomweb = dicomwebConfig(env, cwd);
  const jobs = jobsConfig(env, cwd);
  const keys = [...security.envKeys, ...(security.keysFile?.keys ?? [])];
  const config: Config = {
    // Loopback unless API keys are configured at start (config/hosts.ts).
    host: listenHost(env, keysAtStart(security)),
    port,
    logLevel: text(env, 'LOG_LEVEL') ?? 'info',
    modelDirs: list(env, 'MODEL_DIRS', ['models/demo']).map((dir) => resolve(cwd, dir)),
    promptSetsFile: path(env, 'PROMPT_SETS', cwd),
    executionProviders: providers(env),
    workersPerEncoder,
    intraOpThreads: integer(env, 'INTRA_OP_THREADS', Math.max(1, Math.floor(cpus / workersPerEncoder)), 1, 256),
    ortSpinning: boolean(env, 'ORT_SPINNING', DEFAULT_ORT_SPINNING),
    batching: {
      image: {
        maxBatchSize: integer(env, 'IMAGE_MAX_BATCH_SIZE', 16, 1, 1024),
        maxDelayMs: duration(env, 'IMAGE_MAX_DELAY_MS', 5, 0, 10_000),
        maxQueue: integer(env, 'IMAGE_MAX_QUEUE', 256, 1, 1_000_000),
      },
      text: {
        maxBatchSize: integer(env, 'TEXT_MAX_BATCH_SIZE', 64, 1, 1024),
        maxDelayMs: duration(env, 'TEXT_MAX_DELAY_MS', 2, 0, 10_000),
        maxQueue: textQueueTokens(env, limits.tokensPerRequest),
      },
    },
    requestTimeoutMs,
    workerTimeoutMs: duration(env, 'WORKER_TIMEOUT_MS', 60_000, 100),
    textCacheBytes: integer(env, 'TEXT_CACHE_BYTES', 64 * 1024 * 1024, 0),
    textCacheShared: boolean(env, 'TEXT_CACHE_SHARED', false),
    trustPolicy: trustPolicy(env),
    decoderThreads: integer(env, 'DECODER_THREADS', Math.max(1, Math.min(2, Math.floor(cpus))), 1, 64),
    decoderTimeoutMs: duration(env, 'DECODER_TIMEOUT_MS', 30_000, 100),
    decoderMaxQueue: integer(env, 'DECODER_MAX_QUEUE', 64, 1, 1_000_000),
    jsonWorkerMinBytes: integer(env, 'JSON_WORKER_MIN_BYTES', 256 * 1024, 1, Number.MAX_SAFE_INTEGER),
    shutdownGraceMs: duration(env, 'SHUTDOWN_GRACE_MS', 25_000, 0),
    http: httpConfig(env, limits.bodyBytes, requestTimeoutMs),
    dicomweb,
    jobs,
    watches: watchesConfig(env, cwd, {
      sources: new Set(dicomweb.sources.keys()),
      keys,
      jobsEnabled: jobs.db !== undefined || jobs.databaseUrl !== undefined,
    }),
    memory,
    security,
    telemetry: telemetryConfig(env),
    limits,
  };
  if (config.modelDirs.length === 0) throw new ConfigError('MODEL_DIRS names no directory');
  return config;
}

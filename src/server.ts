// First: libuv sizes its pool from UV_THREADPOOL_SIZE when it starts, before anything below may use it.
import './config/threadpool.ts';
// Then V8's heap growth, before the service allocates.
import './config/heap-growth.ts';
import { buildApp, createLogger } from './app.ts';
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig } from './config.ts';
import { disableCoreDumps } from './core-dumps.ts';
import { buildMetricsListener } from './http/routes/metrics.ts';
import { Metrics } from './metrics.ts';
import { sizeMemoryBudgetAtReady } from './inputs/memory-budget-size.ts';
import { ModelRegistry } from './service/registry.ts';

/**
 * Entry point: listen first (so /healthz answers and /readyz says 503 while models load), load and verify the
 * models, then turn ready. SIGTERM/SIGINT: readiness 503 at once, new work refused, in-flight requests finish
 * within SHUTDOWN_GRACE_MS, workers close, exit 0.
 */
/** Even after a drain that used the whole grace period, closing gets this long to answer and flush. */
const CLOSE_FLOOR_MS = 1_000;

/** Whether `work` finished within `ms` (rejects if it failed first; it is not cancelled otherwise: the caller exits). */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A configuration error, found reading the environment or building the app (a file it names), exits 2 with its message alone. */
async function configured<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`configuration error: ${err.message}\n`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const config = await configured(() => loadConfig());
  const logger = createLogger(config.logLevel);
  // A core file would hold whatever images and texts were in memory: patient data on disk.
  const coreDumps = disableCoreDumps();
  if (coreDumps.state === 'on') {
    logger.fatal(
      { coreFileLimit: coreDumps.soft, reason: coreDumps.reason },
      'core dumps could not be turned off; refusing to start (start it with `ulimit -c 0`)',
    );
    process.exit(1);
  }
  if (coreDumps.state === 'unknown') logger.warn('no /proc/self/limits: core dumps could not be checked (start it with `ulimit -c 0`)');
  const metrics = new Metrics();
  const app = await configured(() => buildApp({ config, logger, metrics }));
  const state = app.serviceState;

  let registry: ModelRegistry | undefined;
  let metricsListener: FastifyInstance | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ signal, inflight: state.inflight }, 'shutting down: readiness off, new work refused');
      state.startDraining();
      const graceEnds = Date.now() + config.shutdownGraceMs;
      const drained = await state.waitIdle(config.shutdownGraceMs);
      if (!drained)
        logger.warn({ inflight: state.inflight, graceMs: config.shutdownGraceMs }, 'grace period over with requests still running');
      // Closing waits for running batches and open connections, but no longer than the grace period leaves (a
      // hung worker must not hold the exit): what is still running then is cut off by the exit.
      const closing = (async () => {
        await registry?.close();
        await app.close();
        // Last, so Prometheus sees the drain to its end.
        await metricsListener?.close();
      })();
      const closed = await settledWithin(closing, Math.max(CLOSE_FLOOR_MS, graceEnds - Date.now()));
      logger.info({ closed }, closed ? 'stopped' : 'stopped: closing outlasted the grace period, cut off');
    })();
    return stopping;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      shutdown(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }

  await app.listen({ host: config.host, port: config.port });
  if (config.security.metricsPort !== undefined) {
    metricsListener = await buildMetricsListener(metrics, logger, config.security.allowedHosts);
    const url = await metricsListener.listen({ host: config.host, port: config.security.metricsPort });
    logger.info({ url }, 'metrics listening (METRICS_PORT)');
  }
  try {
    registry = await ModelRegistry.load(config, { logger, metrics });
  } catch (err) {
    logger.fatal({ err }, 'models could not be loaded; refusing to serve');
    await app.close();
    process.exit(1);
  }
  if (stopping !== undefined) {
    // A signal arrived while loading: the shutdown already running closes what was just loaded.
    await registry.close();
    return;
  }
  sizeMemoryBudgetAtReady(app.memoryBudget, config.memory);
  state.setRegistry(registry);
  logger.info({ models: registry.list().map((m) => m.id), memoryBudgetBytes: app.memoryBudget.limitBytes }, 'ready');
}

await main();

import { buildApp, createLogger } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import type { Config } from './config.ts';
import { Metrics } from './metrics.ts';
import { ModelRegistry } from './service/registry.ts';

/**
 * Entry point: listen first (so /healthz answers and /readyz says 503 while models load), load and verify the
 * models, then turn ready. SIGTERM/SIGINT: readiness 503 at once, new work refused, in-flight requests finish
 * within SHUTDOWN_GRACE_MS, workers close, exit 0.
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const metrics = new Metrics();
  const app = await buildApp({ config, logger, metrics });
  const state = app.unimed;

  let registry: ModelRegistry | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ signal, inflight: state.inflight }, 'shutting down: readiness off, new work refused');
      state.startDraining();
      const drained = await state.waitIdle(config.shutdownGraceMs);
      if (!drained) logger.warn({ inflight: state.inflight, graceMs: config.shutdownGraceMs }, 'grace period over with requests still running');
      await registry?.close();
      await app.close();
      logger.info('stopped');
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
  state.setRegistry(registry);
  logger.info({ models: registry.list().map((m) => m.id) }, 'ready');
}

await main();

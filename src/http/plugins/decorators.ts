import fp from 'fastify-plugin';
import type { Config } from '../../config.ts';
import type { DicomwebSources } from '../../dicomweb/sources.ts';
import type { PixelDecoder } from '../../inputs/decoder/pixel-decoder.ts';
import type { MemoryBudget } from '../../inputs/memory-budget.ts';
import type { Metrics } from '../../metrics.ts';
import { OutputQuality } from '../../service/output-quality.ts';
import type { UseCaseServices } from '../../service/use-case.ts';
import { PLUGIN } from './names.ts';
import type { ServiceState } from './state.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Lifecycle (registry, draining, in-flight count) shared by the routes and the server entry. */
    serviceState: ServiceState;
    /** The service's configuration (limits, timeouts), as loaded at start. */
    config: Config;
    metrics: Metrics;
    /** The app's threads for DICOM and wide PNG/TIFF; started and closed with the app. */
    pixelDecoder: PixelDecoder;
    /** The process-wide budget of bytes image decodes may hold at once (MEMORY_BUDGET_BYTES). */
    memoryBudget: MemoryBudget;
    /** The DICOMweb sources of DICOMWEB_SOURCES, the only servers a request may have images retrieved from. */
    dicomweb: DicomwebSources;
    /** What the use cases of src/service/ run on (limits, decoding, DICOMweb sources), built once from the above. */
    useCaseServices: UseCaseServices;
  }
}

export interface ServiceDeps {
  state: ServiceState;
  config: Config;
  metrics: Metrics;
  pixelDecoder: PixelDecoder;
  memoryBudget: MemoryBudget;
  dicomweb: DicomwebSources;
}

/**
 * What the plugins take from the instance rather than from arguments: decorated on the root before any plugin
 * registers, so every encapsulated context inherits them and no route module imports another for its deps.
 */
export const serviceDecorations = fp<ServiceDeps>(
  (app, deps, loaded) => {
    app.decorate('serviceState', deps.state);
    app.decorate('config', deps.config);
    app.decorate('metrics', deps.metrics);
    app.decorate('pixelDecoder', deps.pixelDecoder);
    app.decorate('memoryBudget', deps.memoryBudget);
    app.decorate('dicomweb', deps.dicomweb);
    app.decorate('useCaseServices', useCaseServices(deps));
    loaded();
  },
  { name: PLUGIN.service },
);

function useCaseServices({ config, metrics, pixelDecoder, memoryBudget, dicomweb }: ServiceDeps): UseCaseServices {
  const { limits } = config;
  const decoding = {
    imagePixels: limits.imagePixels,
    imageBytes: config.limits.imageBytes,
    decodeTimeoutMs: config.decoderTimeoutMs,
    decompression: config.limits.decompression,
    decoder: pixelDecoder,
    memory: memoryBudget,
  };
  return {
    limits,
    decoding,
    sources: dicomweb,
    series: {
      limits: {
        bodyBytes: limits.bodyBytes,
        maxSeriesSlices: config.limits.seriesSlices,
        maxSeriesInstances: config.limits.seriesInstances,
      },
      uploadParallelism: config.decoderThreads,
      sources: dicomweb,
      decoding,
    },
    trustPolicy: config.trustPolicy,
    outputQuality: new OutputQuality(metrics, config.telemetry.driftWindow),
  };
}

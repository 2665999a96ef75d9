import fp from 'fastify-plugin';
import type { WatchConfig } from '../../config/watches.ts';
import { ServiceError } from '../../errors.ts';
import { Watch } from '../../service/jobs/watch.ts';
import { checkJobRequest } from '../../service/jobs/work.ts';
import { PLUGIN } from '../plugins/names.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The watches of WATCHES by name (present with JOBS_DB only): `pollOnce` polls one now. */
    watches: ReadonlyMap<string, Watch>;
  }
}

/**
 * The watches of WATCHES (docs/pacs.md "Watching a source"), started with the job runner and stopped before it:
 * each creates jobs through the jobs plugin's `Jobs` as its configured key, refused as POST /jobs would refuse that
 * key (a model outside its `models=`, an unknown prompt set once the models are loaded).
 */
export const watchesPlugin = fp<{ watches: WatchConfig[] }>(
  (app, { watches: configs }, done) => {
    const watches = new Map<string, Watch>();
    for (const config of configs) {
      const watch = new Watch(config, {
        store: app.jobs.store,
        jobs: app.jobs,
        sources: app.dicomweb,
        fingerprint: (text) => app.jobs.fingerprint(text),
        check: (request) => {
          const registry = app.serviceState.registry;
          const model = request.model ?? registry?.defaultId;
          if (model !== undefined && config.models !== undefined && !config.models.includes(model))
            throw new ServiceError('forbidden', `the watch's API key may not use model "${model}"`);
          checkJobRequest(request, registry === undefined ? undefined : (id) => registry.get(id), app.useCaseServices);
        },
        record: (access) => app.auditWatchSourceAccess({ name: config.name, keyId: config.keyId }, access),
        metrics: app.metrics,
        log: app.log,
      });
      watches.set(config.name, watch);
    }
    app.decorate('watches', watches);
    app.addHook('onReady', (ready) => {
      for (const watch of watches.values()) watch.start();
      ready();
    });
    // preClose: before any onClose hook, so the watches stop before the job runner and store close.
    app.addHook('preClose', async () => {
      await Promise.all([...watches.values()].map((watch) => watch.close()));
    });
    done();
  },
  { name: 'watches', dependencies: [PLUGIN.service, 'jobs-routes', PLUGIN.audit] },
);

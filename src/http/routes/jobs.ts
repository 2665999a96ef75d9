import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { JobsConfig } from '../../config/jobs.ts';
import { badRequest, inField, ServiceError } from '../../errors.ts';
import { JobCipher } from '../../service/jobs/cipher.ts';
import { Jobs } from '../../service/jobs/jobs.ts';
import { openJobStore } from '../../service/jobs/open-store.ts';
import { JobRunner } from '../../service/jobs/runner.ts';
import { JOB_STATUSES, type JobRow, type JobStatus } from '../../service/jobs/store.ts';
import { checkJobRequest, classifyStudy, type JobRequest } from '../../service/jobs/work.ts';
import { ref } from '../openapi/schemas.ts';
import { PLUGIN } from '../plugins/names.ts';
import { authorizeModel, sourceGrant } from '../security/access-control.ts';
import { classifySeriesBody } from './series.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The jobs (present with JOBS_DB or JOBS_DATABASE_URL only): their store, and the runner whose `events` say when a job settles. */
    jobs: Jobs;
  }
}

/** The key a job belongs to: its creating key's id, '' on a service without keys. */
const ownerOf = (request: FastifyRequest): string => request.apiKeyId ?? '';

function view(row: JobRow): Record<string, unknown> {
  return {
    id: row.id,
    status: row.status,
    attempts: row.attempts,
    ...(row.error === undefined ? {} : { error: row.error }),
    ...(row.result === undefined ? {} : { result: row.result }),
  };
}

/** Refuses what the job could never do before it is kept: a source or model its key may not use. */
function authorize(app: FastifyInstance, request: FastifyRequest, body: JobRequest): string[] {
  const grant = { sourceGrant: sourceGrant(request) };
  app.dicomweb.authorize(body.source, grant);
  if (body.destination !== undefined) app.dicomweb.authorize(body.destination, grant);
  const registry = app.serviceState.registry;
  const model = body.model ?? registry?.defaultId;
  if (model !== undefined) authorizeModel(request, model);
  checkJobRequest(body, registry === undefined ? undefined : (id) => registry.get(id), app.useCaseServices);
  return request.apiKey === null ? ['*'] : (request.apiKey.sources ?? []);
}

/**
 * POST /jobs, GET /jobs/{id}, GET /jobs: durable classification jobs of a study's series (docs/pacs.md "Jobs"),
 * kept in JOBS_DB or JOBS_DATABASE_URL and run in the background by one loop of this process. Registered only with one
 * of them. A job database that cannot be reached is 503 `jobs_unavailable` (thrown by the store).
 */
export const jobsRoutes = fp<{ jobs: JobsConfig & { keySecret: string } }>(
  async (app, { jobs: config }) => {
    const cipher = new JobCipher(config.keySecret);
    const store = await openJobStore(config, cipher, app.log);
    const runner = new JobRunner(
      store,
      config,
      (job, signal) =>
        classifyStudy(job, signal, {
          services: app.useCaseServices,
          chooseModel: (id) => {
            const registry = app.serviceState.registry;
            if (registry === undefined) throw new ServiceError('not_ready', 'the models are not loaded yet');
            return registry.get(id);
          },
          maxStudySeries: config.maxStudySeries,
          render: (classification, fields) => classifySeriesBody(classification, fields, false),
          record: (row, access) => app.auditJobSourceAccess(row, access),
        }),
      app.log,
    );
    const jobs = new Jobs(store, runner, cipher, config);
    app.decorate('jobs', jobs);
    app.metrics.jobs.observe(() => store.summary());
    runner.events.on('settled', (_id: string, status: string) => app.metrics.jobs.settled.inc({ status }));
    // Jobs run once the models are loaded: a job claimed before would only fail its try with not_ready.
    app.addHook('onReady', (done) => {
      void app.serviceState.untilRegistry().then(() => runner.start());
      done();
    });
    app.addHook('onClose', async () => {
      await runner.close();
      await store.close();
    });

    app.post('/jobs', { schema: { body: { content: { 'application/json': { schema: ref('JobRequest') } } } } }, async (request, reply) => {
      const body = request.body as JobRequest;
      const header = request.headers['idempotency-key'];
      const { row, created } = await jobs.submit({
        keyId: ownerOf(request),
        sources: authorize(app, request, body),
        idempotencyKey: typeof header === 'string' && header !== '' ? header : undefined,
        request: body,
      });
      return reply.code(created ? 202 : 200).send({ id: row.id, status: row.status });
    });

    app.get('/jobs/:id', async (request, reply) => {
      const { id } = request.params as { id: string };
      return reply.send(view(await jobs.get(id, ownerOf(request))));
    });

    app.get('/jobs', async (request, reply) => {
      const query = request.query as { status?: string; limit?: string; cursor?: string };
      const status = query.status;
      if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status))
        throw inField('status', badRequest('status must be one of queued, running, done, failed'));
      const limit = query.limit === undefined ? 50 : Number(query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500)
        throw inField('limit', badRequest('limit must be an integer from 1 to 500'));
      const after = query.cursor === undefined ? 0 : Number(query.cursor);
      if (!Number.isInteger(after) || after < 0) throw inField('cursor', badRequest('cursor must be a next_cursor of an earlier answer'));
      const { rows, next } = await jobs.list(ownerOf(request), status as JobStatus | undefined, after, limit);
      return reply.send({
        jobs: rows.map((row) => ({ id: row.id, status: row.status, attempts: row.attempts })),
        ...(next === undefined ? {} : { next_cursor: String(next) }),
      });
    });
  },
  { name: 'jobs-routes', dependencies: [PLUGIN.service] },
);

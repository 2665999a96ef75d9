import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { JobsConfig } from '../../config/jobs.ts';
import { badRequest, inField, ServiceError } from '../../errors.ts';
import { JobRunner } from '../../service/jobs/runner.ts';
import { JobCipher } from '../../service/jobs/cipher.ts';
import { JobStore, type JobRow, type JobStatus } from '../../service/jobs/store.ts';
import { classifyStudy, type JobRequest } from '../../service/jobs/work.ts';
import { ref } from '../openapi/schemas.ts';
import { PLUGIN } from '../plugins/names.ts';
import { authorizeModel, sourceGrant } from '../security/access-control.ts';
import { classifySeriesBody } from './series.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The background loop of the jobs (present with JOBS_DB only); its `events` say when a job settles. */
    jobRunner: JobRunner;
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
  app.dicomweb.authorize(body.source, { sourceGrant: sourceGrant(request) });
  const model = body.model ?? app.serviceState.registry?.defaultId;
  if (model !== undefined) authorizeModel(request, model);
  return request.apiKey === null ? ['*'] : (request.apiKey.sources ?? []);
}

/**
 * POST /jobs, GET /jobs/{id}, GET /jobs: durable classification jobs of a study's series (docs/pacs.md "Jobs"),
 * kept in JOBS_DB and run in the background by one loop of this process. Registered only with JOBS_DB.
 */
export const jobsRoutes = fp<{ jobs: JobsConfig & { db: string; keySecret: string } }>(
  (app, { jobs }, loaded) => {
    const cipher = new JobCipher(jobs.keySecret);
    const store = new JobStore(jobs.db, cipher);
    const runner = new JobRunner(
      store,
      jobs,
      (job, signal) =>
        classifyStudy(job, signal, {
          services: app.useCaseServices,
          chooseModel: (id) => {
            const registry = app.serviceState.registry;
            if (registry === undefined) throw new ServiceError('not_ready', 'the models are not loaded yet');
            return registry.get(id);
          },
          maxStudySeries: jobs.maxStudySeries,
          render: (classification, fields) => classifySeriesBody(classification, fields, false),
          record: (row, access) => app.auditJobSourceAccess(row, access),
        }),
      app.log,
    );
    app.decorate('jobRunner', runner);
    app.addHook('onReady', (done) => {
      runner.start();
      done();
    });
    app.addHook('onClose', async () => {
      await runner.close();
      store.close();
    });

    app.post('/jobs', { schema: { body: { content: { 'application/json': { schema: ref('JobRequest') } } } } }, async (request, reply) => {
      const body = request.body as JobRequest;
      const sources = authorize(app, request, body);
      const keyId = ownerOf(request);
      const header = request.headers['idempotency-key'];
      const idempotencyKey = typeof header === 'string' && header !== '' ? header : undefined;
      const bodyHash = cipher.fingerprint(JSON.stringify(body));
      if (idempotencyKey !== undefined) {
        const earlier = store.findByIdempotencyKey(keyId, idempotencyKey);
        if (earlier !== undefined) {
          if (earlier.bodyHash !== bodyHash)
            throw new ServiceError('conflict', 'this Idempotency-Key was used for another request body', { field: 'idempotency-key' });
          return reply.code(200).send({ id: earlier.row.id, status: earlier.row.status });
        }
      }
      if (store.queuedCount(keyId) >= jobs.maxQueuedPerKey)
        throw new ServiceError(
          'rate_limited',
          `this API key has JOBS_MAX_QUEUED_PER_KEY (${jobs.maxQueuedPerKey}) jobs queued or running`,
          {
            retryAfterSeconds: 60,
          },
        );
      if (store.queuedCount() >= jobs.maxQueued)
        throw new ServiceError('queue_full', `JOBS_MAX_QUEUED (${jobs.maxQueued}) jobs are queued or running`, { retryAfterSeconds: 60 });
      const id = randomUUID();
      store.insert({ id, keyId, idempotencyKey, bodyHash, request: body, sources }, Date.now());
      runner.wake();
      return reply.code(202).send({ id, status: 'queued' });
    });

    app.get('/jobs/:id', (request, reply) => {
      const { id } = request.params as { id: string };
      const row = store.get(id, ownerOf(request));
      if (row === undefined) throw new ServiceError('job_not_found', 'no such job (jobs are seen only by the API key that created them)');
      return reply.send(view(row));
    });

    app.get('/jobs', (request, reply) => {
      const query = request.query as { status?: string; limit?: string; cursor?: string };
      const status = query.status;
      if (status !== undefined && !['queued', 'running', 'done', 'failed'].includes(status))
        throw inField('status', badRequest('status must be one of queued, running, done, failed'));
      const limit = query.limit === undefined ? 50 : Number(query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500)
        throw inField('limit', badRequest('limit must be an integer from 1 to 500'));
      const after = query.cursor === undefined ? 0 : Number(query.cursor);
      if (!Number.isInteger(after) || after < 0) throw inField('cursor', badRequest('cursor must be a next_cursor of an earlier answer'));
      const rows = store.list(ownerOf(request), status as JobStatus | undefined, after, limit + 1);
      const page = rows.slice(0, limit);
      return reply.send({
        jobs: page.map((row) => ({ id: row.id, status: row.status, attempts: row.attempts })),
        ...(rows.length > limit ? { next_cursor: String(page[page.length - 1]!.seq) } : {}),
      });
    });
    loaded();
  },
  { name: 'jobs-routes', dependencies: [PLUGIN.service] },
);

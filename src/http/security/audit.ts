import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import pino from 'pino';
import type { Logger } from 'pino';
import type { SecurityConfig } from '../../config/security.ts';
import type { SourceAccess } from '../../dicomweb/access.ts';
import { auditHash, auditHashKeyId } from './audit-hash.ts';
import { PLUGIN } from '../plugins/names.ts';
import { clientAddress, trustedProxies } from './client-address.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The model that served the request, for the audit line (set where the route picks it). */
    auditModel: { id: string; sha256: string } | null;
    /** The client's address (TRUSTED_PROXIES' X-Forwarded-For honoured): the audit line's, and what failed keys are counted by. */
    clientAddress: string;
    /** Writes the audit line of one request made to a DICOMweb source for this request (its UIDs as keyed hashes). */
    auditSourceAccess(access: SourceAccess): void;
  }
  interface FastifyInstance {
    /** The audit line of a request made to a DICOMweb source by a background job (routes/jobs.ts), for its creating key. */
    auditJobSourceAccess(job: { id: string; keyId: string }, access: SourceAccess): void;
    /** The audit line of a study search made by a watch (service/jobs/watch.ts), for the key its jobs belong to. */
    auditWatchSourceAccess(watch: { name: string; keyId: string }, access: SourceAccess): void;
  }
}

/**
 * The audit trail, a pino logger of its own (AUDIT_LOG: stdout or a file), apart from the service log so it
 * can be shipped and kept on its own terms. Each line says `"log":"audit"`, so on a shared stdout it is told
 * apart. A file is created readable by the service's user only (0600). Written synchronously: one write per line, so lines from the two loggers never interleave mid-line.
 * `destination` replaces the target (tests capture it).
 */
export function openAuditLog(target: SecurityConfig['auditLog'], destination?: pino.DestinationStream): { logger: Logger; close(): void } {
  const options = { base: { log: 'audit' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (destination !== undefined) return { logger: pino(options, destination), close: () => undefined };
  const dest =
    target === 'stdout'
      ? pino.destination({ dest: 1, sync: true })
      : pino.destination({ dest: target.file, append: true, mkdir: true, sync: true, mode: 0o600 });
  return {
    logger: pino(options, dest),
    close: () => {
      if (target !== 'stdout') dest.end();
    },
  };
}

/** Records the model a request used, for its audit line. */
export function noteModel(request: FastifyRequest, model: { id: string; sha256: string }): void {
  request.auditModel = { id: model.id, sha256: model.sha256 };
}

/** Bytes the request's connection has read and written so far (0 for an injected request, which has no real socket). */
function counters(request: FastifyRequest): { read: number; written: number } {
  const socket = request.raw.socket as { bytesRead?: number; bytesWritten?: number } | undefined;
  return { read: socket?.bytesRead ?? 0, written: socket?.bytesWritten ?? 0 };
}

interface Start {
  at: number;
  bytesRead: number;
  bytesWritten: number;
  bodyAt?: number;
}

/** A body's size: its Content-Length when it has one (Node delivers exactly that or fails), else counted on the socket. */
function size(header: unknown, counted: number): number {
  const declared = Number(header);
  return Number.isInteger(declared) && declared >= 0 ? declared : Math.max(0, counted);
}

/**
 * One line per request, whatever its outcome: which (the service's request id, the caller's X-Request-Id only as
 * a keyed hash), who (`key_id`, never the key; `client_address`), what (route template, method, model
 * id and sha256), the answer (status, body bytes in and out) and timings. Never a body, query string, header
 * value, file name or field value: nothing a client sends is copied into it. The first of the security plugins,
 * so that the refusals of the others are timed from the start.
 */
export const auditLog = fp<{ target: SecurityConfig['auditLog']; destination?: pino.DestinationStream }>(
  (app, { target, destination }, loaded) => {
    const opened = openAuditLog(target, destination);
    if (!app.config.security.auditHash.fromFile)
      app.log.info(
        'AUDIT_HASH_SECRET_FILE is not set: caller request ids are hashed with a key of this process alone, so their hashes match nothing after a restart',
      );
    const audit = opened.logger;
    app.addHook('onClose', (_app, done) => {
      opened.close();
      done();
    });
    app.decorateRequest('auditModel', null);
    app.decorateRequest('clientAddress', '');
    const hashKey = app.config.security.auditHash.key;
    const hashKeyId = auditHashKeyId(hashKey);
    const sourceLine = (access: SourceAccess) => {
      const { source, operation, outcome, study, series, instance } = access;
      return {
        event: 'dicomweb',
        source,
        operation,
        outcome,
        hash_key: hashKeyId,
        ...(study === undefined ? {} : { study_hmac: auditHash(hashKey, study) }),
        ...(series === undefined ? {} : { series_hmac: auditHash(hashKey, series) }),
        ...(instance === undefined ? {} : { instance_hmac: auditHash(hashKey, instance) }),
      };
    };
    app.decorateRequest('auditSourceAccess', function (this: FastifyRequest, access: SourceAccess) {
      audit.info({
        ...sourceLine(access),
        request_id: this.id,
        key_id: this.apiKeyId ?? null,
        client_address: this.clientAddress,
        route: this.routeOptions.url ?? 'unmatched',
      });
    });
    app.decorate('auditJobSourceAccess', (job: { id: string; keyId: string }, access: SourceAccess) => {
      audit.info({ ...sourceLine(access), job_id: job.id, key_id: job.keyId === '' ? null : job.keyId, route: 'job' });
    });
    app.decorate('auditWatchSourceAccess', (watch: { name: string; keyId: string }, access: SourceAccess) => {
      audit.info({ ...sourceLine(access), watch: watch.name, key_id: watch.keyId === '' ? null : watch.keyId, route: 'watch' });
    });
    const trusted = trustedProxies(app.config.security.trustedProxies);
    const starts = new WeakMap<FastifyRequest, Start>();

    app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done) => {
      request.clientAddress = clientAddress(request, trusted);
      const { read, written } = counters(request);
      starts.set(request, { at: performance.now(), bytesRead: read, bytesWritten: written });
      done();
    });
    app.addHook('preHandler', (request: FastifyRequest, _reply: FastifyReply, done) => {
      const start = starts.get(request);
      if (start !== undefined) start.bodyAt = performance.now();
      done();
    });
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
      const start = starts.get(request);
      const { read, written } = counters(request);
      const round = (ms: number): number => Math.round(ms * 10) / 10;
      audit.info({
        request_id: request.id,
        caller_request_id_hmac: request.callerRequestIdHash,
        ...(request.callerRequestIdHash === null ? {} : { hash_key: hashKeyId }),
        key_id: request.apiKeyId ?? null,
        client_address: request.clientAddress,
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        model: request.auditModel,
        status: reply.statusCode,
        bytes_in: size(request.headers['content-length'], start === undefined ? 0 : read - start.bytesRead),
        bytes_out: size(reply.getHeader('content-length'), start === undefined ? 0 : written - start.bytesWritten),
        timings: {
          total_ms: round(reply.elapsedTime),
          ...(start?.bodyAt === undefined ? {} : { until_handler_ms: round(start.bodyAt - start.at) }),
        },
      });
      done();
    });
    loaded();
  },
  { name: PLUGIN.audit, dependencies: [PLUGIN.tracing] },
);

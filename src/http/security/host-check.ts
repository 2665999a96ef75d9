import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hostAllowed, type HostPolicy } from '../../config/hosts.ts';
import { ServiceError } from '../../errors.ts';
import { errorBody, statusOf } from '../errors/error-handler.ts';
import { PLUGIN } from '../plugins/names.ts';

const MESSAGE = 'this service does not answer for the host this request names (ALLOWED_HOSTS)';

/** The request's Host header, its route as registered (`/readyz`; undefined when none matched) and whether they pass. */
const passes = (policy: HostPolicy, request: FastifyRequest): boolean =>
  hostAllowed(policy, request.headers.host, request.routeOptions.url);

/**
 * DNS rebinding: a page on a name the attacker controls, re-pointed at this service, calls it as its own origin
 * (the Origin check of cors.ts compares the Origin with this very Host). A request whose Host is not one ALLOWED_HOSTS
 * (or its default, src/config/hosts.ts) lets through gets 421 misdirected_request, after the audit clock starts and
 * before the Origin, the key or the body are looked at. Probe and metrics routes also answer a Host that is an IP
 * address: kubelet probes and Prometheus call the pod by its IP.
 */
export const hostCheck = fp<{ policy: HostPolicy }>(
  (app, { policy }, loaded) => {
    app.addHook('onReady', (ready) => {
      const names =
        policy.names === '*'
          ? '*'
          : policy.names.map((e) => `${e.subdomains ? '.' : ''}${e.name}${e.port === undefined ? '' : `:${e.port}`}`);
      app.log.info({ allowedHosts: names, ipAddresses: policy.ipAddresses, source: policy.source }, 'Host names answered (ALLOWED_HOSTS)');
      ready();
    });
    app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
      done(passes(policy, request) ? undefined : new ServiceError('misdirected_request', MESSAGE));
    });
    loaded();
  },
  { name: PLUGIN.hostCheck, dependencies: [PLUGIN.audit] },
);

/** The same check on the metrics listener (METRICS_PORT), which has no error handler of the service's: it answers itself. */
export function checkMetricsListenerHost(app: FastifyInstance, policy: HostPolicy): void {
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    if (passes(policy, request)) {
      done();
      return;
    }
    void reply.code(statusOf('misdirected_request')).send(errorBody('misdirected_request', MESSAGE));
  });
}

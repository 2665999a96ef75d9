import type { FastifyInstance } from 'fastify';
import type pino from 'pino';
import type { Logger } from 'pino';
import type { SecurityConfig } from '../../config/security.ts';
import { installAuditLog, openAuditLog } from './audit.ts';
import { installAccessControl } from './access-control.ts';
import { ApiKeyStore } from './key-store.ts';
import { installRateLimits } from './rate-limit.ts';
import { installCors } from './cors.ts';

/**
 * Access control and the audit trail for every route, in the order a request meets them, all before its body
 * is read: the audit clock starts, a foreign Origin is refused (403), the API key is checked (401/403), its
 * rate is counted (429). The audit line is written when the answer has gone, whatever it was.
 */
export async function installSecurity(
  app: FastifyInstance,
  security: SecurityConfig,
  logger: Logger,
  auditDestination?: pino.DestinationStream,
): Promise<void> {
  const audit = openAuditLog(security.auditLog, auditDestination);
  app.addHook('onClose', (_app, done) => {
    audit.close();
    done();
  });
  installAuditLog(app, audit.logger);
  await installCors(app, security.corsOrigins);
  installAccessControl(app, new ApiKeyStore(security.envKeys, security.keysFile, logger));
  await installRateLimits(app);
}

import type { FastifyInstance } from 'fastify';
import type { Pipeline } from '../queue/pipeline.js';
import { bearerToken, secretsEqual } from './auth.js';
import { withTimeout } from '../shared/timeout.js';
import type { Metrics } from './metrics.js';
import type { ImapStatusInfo } from './providers.js';
import type { LoginRateLimiter } from './rate-limiter.js';

/** One part of `/readyz`. */
export interface ReadyCheck {
  readonly ok: boolean;
  readonly detail: string;
}

export interface OpsRoutesOptions {
  readonly pipeline: Pipeline;
  readonly metrics: Metrics;
  readonly imapStatus?: () => ImapStatusInfo;
  /** ADMIN_TOKEN: when set, /metrics wants it as a bearer token. */
  readonly token: string | null;
  readonly limiter: LoginRateLimiter;
  /** True once shutdown has begun: /readyz then says no, so a balancer stops sending work. */
  readonly closing: () => boolean;
}

// A readiness probe must answer quickly even when Redis hangs (ioredis queues commands while it
// reconnects, and BullMQ connections retry forever).
const REDIS_PING_TIMEOUT_MS = 2_000;

/** Whether the IMAP watcher is in a state where mail gets picked up (or another process has the mailbox). */
export function imapReady(status: ImapStatusInfo): ReadyCheck {
  if (status.role === 'standby')
    return { ok: true, detail: `standby: another process watches ${status.mailbox}` };
  if (status.role === 'active' && status.connected) return { ok: true, detail: `watching ${status.mailbox}` };
  const why = status.lastError === null ? '' : `: ${status.lastError.message}`;
  return { ok: false, detail: `${status.role}, ${status.connected ? 'connected' : 'not connected'}${why}` };
}

/**
 * Probes and metrics, at the server's root and without the admin login: `/healthz` (liveness: the
 * process answers), `/readyz` (Redis, the IMAP watcher, this process's workers) and `/metrics`
 * (Prometheus text; behind `Authorization: Bearer ADMIN_TOKEN` when a token is configured).
 */
export function opsRoutes(app: FastifyInstance, o: OpsRoutesOptions): Promise<void> {
  const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

  app.get('/healthz', async (_req, reply) => reply.headers(headers).send({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, ReadyCheck> = {};
    checks.redis = await redisCheck(o.pipeline);
    const workers = o.pipeline.workerStatus();
    const stopped = workers.filter((w) => !w.running).map((w) => w.queue);
    checks.workers =
      workers.length === 0
        ? { ok: true, detail: 'this process runs no workers' }
        : stopped.length === 0
          ? { ok: true, detail: `running: ${workers.map((w) => w.queue).join(', ')}` }
          : { ok: false, detail: `not running: ${stopped.join(', ')}` };
    if (o.imapStatus !== undefined) checks.imap = imapReady(o.imapStatus());
    if (o.closing()) checks.shutdown = { ok: false, detail: 'shutting down' };
    const ready = Object.values(checks).every((c) => c.ok);
    return reply
      .code(ready ? 200 : 503)
      .headers(headers)
      .send({ ready, checks });
  });

  app.get('/metrics', async (req, reply) => {
    if (o.token !== null) {
      const decision = o.limiter.check(req.ip);
      if (!decision.allowed) {
        return reply
          .code(429)
          .header('retry-after', String(Math.ceil(decision.retryAfterMs / 1000)))
          .send('too many attempts\n');
      }
      const given = bearerToken(req.headers.authorization);
      if (given === null || !secretsEqual(given, o.token)) {
        if (given !== null) o.limiter.fail(req.ip);
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="isw-ko metrics"')
          .send('send Authorization: Bearer ADMIN_TOKEN\n');
      }
    }
    const { contentType, body } = await o.metrics.expose();
    return reply.headers(headers).type(contentType).send(body);
  });
  return Promise.resolve();
}

async function redisCheck(pipeline: Pipeline): Promise<ReadyCheck> {
  try {
    const answer = await withTimeout(pipeline.ping(), REDIS_PING_TIMEOUT_MS);
    return answer === null
      ? { ok: false, detail: `no answer within ${REDIS_PING_TIMEOUT_MS} ms` }
      : { ok: true, detail: 'answers PING' };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

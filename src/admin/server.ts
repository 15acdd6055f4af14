import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Env } from '../config/index.js';
import { loadPostTemplates, type PostTemplates } from '../publish/index.js';
import type { Pipeline } from '../queue/pipeline.js';
import type { Logger } from '../shared/logger.js';
import { DEFAULT_TEMPLATES_DIR } from '../shared/paths.js';
import { adminSettingsFrom, type AdminSettings } from './admin-settings.js';
import { adminRoutes, SESSION_TTL_MS } from './admin-routes.js';
import { loadAdminTemplates, type AdminTemplates } from './admin-templates.js';
import { randomSecret, SessionAuth } from './auth.js';
import type { Metrics } from './metrics.js';
import { opsRoutes } from './ops-routes.js';
import type { AdminProviders } from './providers.js';
import { LoginRateLimiter } from './rate-limiter.js';
import { ReportData } from './report-data.js';

/** Failed logins (or wrong bearer tokens) per client address before it must wait. */
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_MS = 15 * 60_000;

export interface AdminServerOptions {
  readonly pipeline: Pipeline;
  readonly env: Env;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Default: from `env` (ADMIN_LISTEN, ADMIN_PASSWORD, ADMIN_TOKEN, ADMIN_SESSION_SECRET). */
  readonly settings?: AdminSettings;
  readonly providers?: AdminProviders;
  /** Default: loaded from TEMPLATES_DIR (the shipped templates/). */
  readonly postTemplates?: PostTemplates;
  readonly adminTemplates?: AdminTemplates;
  readonly clock?: () => number;
  readonly loginLimit?: { readonly maxFailures: number; readonly windowMs: number };
  /**
   * `full` (`isw-ko run`): everything. `ops` (`isw-ko worker --listen`): only /healthz, /readyz and
   * /metrics, so a scaled-out worker can be probed and scraped without serving a second admin site.
   */
  readonly mode?: 'full' | 'ops';
  /** Told of every route as it is added (tests check that each admin route wants a login). */
  readonly onRoute?: (route: { readonly method: string; readonly url: string }) => void;
}

/**
 * The one HTTP server of isw-ko, not yet listening:
 * - `/admin/…`: admin pages (Korean), the admin JSON API under `/admin/api/`, bull-board under
 *   `/admin/queues/`; every one of them behind the login (only with ADMIN_PASSWORD set; without
 *   it they are off and say so);
 * - the public subscribe/confirm/unsubscribe routes, when the notify stage lends them, at the root;
 * - `/healthz`, `/readyz`, `/metrics`.
 *
 * Returns the fastify instance and a `closing` switch that `/readyz` reports.
 */
export async function buildAdminServer(
  options: AdminServerOptions,
): Promise<{ server: FastifyInstance; markClosing: () => void }> {
  const settings = options.settings ?? adminSettingsFrom(options.env);
  const providers = options.providers ?? {};
  const clock = options.clock ?? Date.now;
  const log = options.logger.child({ component: 'http' });
  const limiter = new LoginRateLimiter({
    maxFailures: options.loginLimit?.maxFailures ?? LOGIN_MAX_FAILURES,
    windowMs: options.loginLimit?.windowMs ?? LOGIN_WINDOW_MS,
    clock,
  });
  let closing = false;
  const markClosing = (): void => {
    closing = true;
  };

  // Typed as fastify's logger interface so the instance keeps the default type plugins expect.
  const fastifyLog: FastifyBaseLogger = log;
  const server = Fastify({
    loggerInstance: fastifyLog,
    // Request lines would log every probe and scrape; errors are logged by the handlers.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // Close idle keep-alive sockets on shutdown so close() does not wait for browsers to hang up.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  const onRoute = options.onRoute;
  if (onRoute !== undefined) {
    server.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) onRoute({ method, url: route.url });
    });
  }

  await server.register(opsRoutes, {
    pipeline: options.pipeline,
    metrics: options.metrics,
    ...(providers.imapStatus === undefined ? {} : { imapStatus: providers.imapStatus }),
    token: settings.token,
    limiter,
    closing: () => closing,
  });

  if (options.mode === 'ops') return { server, markClosing };

  if (providers.publicRoutes !== undefined) {
    // Public by design (subscribe, confirm, one-click unsubscribe): its own scope, no admin gate.
    await server.register(providers.publicRoutes);
  }

  if (settings.password === null) {
    log.warn(
      'admin pages are OFF: set ADMIN_PASSWORD (12 characters or more) to turn them on; /healthz, /readyz, /metrics and the public routes still answer',
    );
    await server.register(
      (scope, _opts, done) => {
        const off = {
          error: 'admin_disabled',
          message: 'the admin pages are off: set ADMIN_PASSWORD and restart',
        };
        scope.all('/', async (_req, reply) => reply.code(503).header('cache-control', 'no-store').send(off));
        scope.all('/*', async (_req, reply) => reply.code(503).header('cache-control', 'no-store').send(off));
        done();
      },
      { prefix: '/admin' },
    );
  } else {
    if (settings.sessionSecret === null) {
      log.warn('ADMIN_SESSION_SECRET is not set: using a random key, so every restart logs admins out');
    }
    if (settings.token === null)
      log.info('ADMIN_TOKEN is not set: /metrics is open and the admin API needs a login');
    const [postTemplates, adminTemplates] = await Promise.all([
      options.postTemplates ?? loadPostTemplates(options.env.TEMPLATES_DIR ?? DEFAULT_TEMPLATES_DIR),
      options.adminTemplates ?? loadAdminTemplates(),
    ]);
    await server.register(adminRoutes, {
      prefix: '/admin',
      pipeline: options.pipeline,
      data: new ReportData({
        pipeline: options.pipeline,
        postTemplates,
        providers,
        genericSourceNames: options.env.GENERIC_SOURCE_NAMES,
      }),
      templates: adminTemplates,
      auth: new SessionAuth({
        secret: settings.sessionSecret ?? randomSecret(),
        password: settings.password,
        ttlMs: SESSION_TTL_MS,
        clock,
      }),
      limiter,
      password: settings.password,
      token: settings.token,
      secureCookies: settings.secureCookies,
      providers,
      logger: options.logger,
      clock,
    });
  }
  return { server, markClosing };
}

/** A listening admin server. */
export interface RunningAdminServer {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  readonly server: FastifyInstance;
  /** Stop accepting connections, finish requests in flight. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Build the server and listen on ADMIN_LISTEN (or `listen`, e.g. port 0 in tests).
 *
 * @throws when the address is taken or not ours to bind (the error names it)
 */
export async function startAdminServer(
  options: AdminServerOptions & { readonly listen?: { readonly host: string; readonly port: number } },
): Promise<RunningAdminServer> {
  const settings = options.settings ?? adminSettingsFrom(options.env);
  const { server, markClosing } = await buildAdminServer({ ...options, settings });
  const where = options.listen ?? { host: settings.host, port: settings.port };
  await server.listen({ host: where.host, port: where.port });
  const address = server.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : where.port;
  const host = where.host.includes(':') ? `[${where.host}]` : where.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;
  const admin = options.mode !== 'ops' && settings.password !== null;
  options.logger.info({ url, admin }, 'HTTP server listening');
  let closingPromise: Promise<void> | null = null;
  return {
    url,
    server,
    close: () =>
      (closingPromise ??= (async () => {
        markClosing();
        await server.close();
      })()),
  };
}

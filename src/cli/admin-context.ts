import { adminSettingsFrom, parseListen } from '../admin/admin-settings.js';
import type { AdminProviders } from '../admin/providers.js';
import { ImapWatcher } from '../inbox/index.js';
import { startAdminServer, type RunningAdminServer } from '../admin/server.js';
import type { App } from './app.js';

/**
 * What the admin server borrows from a running app besides the pipeline: the IMAP watcher's
 * status (`/readyz`) and its quarantine (the held-mail page) when the inbox is IMAP.
 *
 * Not wired yet, for whoever lands the notify stage in `startApp`: `publicRoutes: (s) =>
 * s.register(publicRoutes, {...})` (src/notify/http.ts), `mailStatus` (the "발송" stage),
 * `renotify` (`reprocess --from notify`), its queues as `extraQueues` for bull-board, and
 * `app.metrics.emailsSent.inc()` where a send succeeds. Until then the server runs without them.
 */
export function adminProvidersFor(app: App): AdminProviders {
  const inbox = app.inbox;
  if (inbox instanceof ImapWatcher) {
    return { quarantine: inbox.quarantine, imapStatus: () => inbox.status() };
  }
  return {};
}

/**
 * Serve HTTP for a running app: `full` for `isw-ko run` (admin, public routes, probes, metrics) on
 * ADMIN_LISTEN; `ops` for `isw-ko worker --listen` (probes and metrics only) on the given address.
 */
export async function startHttp(
  app: App,
  mode: 'full' | 'ops',
  listen?: string,
): Promise<RunningAdminServer> {
  return startAdminServer({
    pipeline: app.pipeline,
    env: app.env,
    logger: app.logger,
    metrics: app.metrics,
    providers: adminProvidersFor(app),
    settings: adminSettingsFrom(app.env),
    mode,
    ...(listen === undefined ? {} : { listen: parseListen(listen) }),
  });
}

import { adminSettingsFrom, parseListen } from '../admin/admin-settings.js';
import type { AdminProviders } from '../admin/providers.js';
import { ImapWatcher } from '../inbox/index.js';
import { startAdminServer, type RunningAdminServer } from '../admin/server.js';
import type { App } from './app.js';

/**
 * What the admin server borrows from a running app besides the pipeline: the IMAP watcher's
 * status (`/readyz`) and its quarantine (the held-mail page) when the inbox is IMAP.
 * And from the notify stage: the public subscribe/confirm/unsubscribe routes, each report's mail
 * status (the "발송" stage), `reprocess --from notify`, and its queues for bull-board.
 */
export function adminProvidersFor(app: App): AdminProviders {
  const inbox = app.inbox;
  const notify: AdminProviders = {
    publicRoutes: app.notify.publicRoutes,
    mailStatus: (reportId) => app.notify.mailStatus(reportId),
    renotify: app.renotify,
    extraQueues: [app.notify.fanOutQueue, app.notify.sendQueue],
  };
  if (inbox instanceof ImapWatcher) {
    return { ...notify, quarantine: inbox.quarantine, imapStatus: () => inbox.status() };
  }
  return notify;
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

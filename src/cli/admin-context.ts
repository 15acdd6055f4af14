import { adminSettingsFrom, parseListen } from '../admin/admin-settings.js';
import { tryBind } from '../admin/check-admin.js';
import type { AdminProviders } from '../admin/providers.js';
import { ImapWatcher } from '../inbox/index.js';
import { startAdminServer, type RunningAdminServer } from '../admin/server.js';
import { AppError } from '../shared/app-error.js';
import { errnoOf } from '../shared/fs-errors.js';
import type { App } from './app.js';
import type { Env } from '../config/index.js';

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
  const settings = adminSettingsFrom(app.env);
  const where = listen === undefined ? { host: settings.host, port: settings.port } : listenArgument(listen);
  const setting = listen === undefined ? 'ADMIN_LISTEN' : '--listen';
  try {
    return await startAdminServer({
      pipeline: app.pipeline,
      env: app.env,
      logger: app.logger,
      metrics: app.metrics,
      providers: adminProvidersFor(app),
      settings,
      mode,
      listen: where,
    });
  } catch (err) {
    throw listenError(err, where, setting) ?? err;
  }
}

/**
 * Fail before anything starts when the HTTP address cannot be had: otherwise a second `run` starts
 * its workers and inbox beside the first one's and only then finds the port taken. (The address
 * can still be taken in between; `startHttp` reports that the same way.)
 */
export async function ensureListenFree(env: Env, listen?: string): Promise<void> {
  const settings = adminSettingsFrom(env);
  const where = listen === undefined ? { host: settings.host, port: settings.port } : listenArgument(listen);
  const code = await tryBind(where.host, where.port);
  if (code === null) return;
  const err = Object.assign(new Error(`listen ${code} ${where.host}:${where.port}`), { code });
  throw listenError(err, where, listen === undefined ? 'ADMIN_LISTEN' : '--listen') ?? err;
}

/** `--listen host:port`, checked as ADMIN_LISTEN is (a bad port is the user's typo, not a bug). */
function listenArgument(listen: string): { host: string; port: number } {
  const { host, port } = parseListen(listen);
  if (!listen.includes(':') || host === '' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new AppError('BAD_ARGUMENT', 'user', `--listen takes host:port, not "${listen}"`, {
      hint: 'e.g. --listen 127.0.0.1:8788, or 0.0.0.0:8788 to be reachable from other machines',
    });
  }
  return { host, port };
}

/** A failed bind as the operator's problem: which address, why, and the setting to change. */
function listenError(err: unknown, where: { host: string; port: number }, setting: string): AppError | null {
  const code = errnoOf(err);
  const why =
    code === 'EADDRINUSE'
      ? 'the address is already in use (another isw-ko run, or another program)'
      : code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : code === 'EADDRNOTAVAIL'
          ? 'this machine has no such address'
          : null;
  if (why === null) return null;
  return new AppError(
    'LISTEN_FAILED',
    'user',
    `cannot listen on ${where.host}:${where.port} (${setting}): ${why}`,
    {
      hint: `stop whatever holds it, or set ${setting} to a free address (\`isw-ko doctor\` checks ADMIN_LISTEN)`,
      cause: err,
    },
  );
}

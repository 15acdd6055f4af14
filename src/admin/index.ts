/**
 * The HTTP side of isw-ko: admin pages and JSON API (behind a login), bull-board, the public
 * routes the notify stage lends, `/healthz`, `/readyz` and `/metrics`; plus the job operations the
 * CLI shares with the pages. Other stages do not import this: they take a `{ inc() }` for the
 * counters they own, and `src/cli` wires `Metrics` into them.
 */
export {
  buildAdminServer,
  startAdminServer,
  LOGIN_MAX_FAILURES,
  LOGIN_WINDOW_MS,
  type AdminServerOptions,
  type RunningAdminServer,
} from './server.js';
export { adminSettingsFrom, parseListen, type AdminSettings } from './admin-settings.js';
export { Metrics, METRIC_PREFIX, type QueueCountsSource } from './metrics.js';
export type { AdminProviders, QuarantineProvider, HeldMessageInfo, ImapStatusInfo } from './providers.js';
export {
  listJobs,
  retryJob,
  retryAllFailed,
  reprocess,
  LISTABLE_STATES,
  REPROCESS_STAGES,
  type JobRow,
  type ListableState,
  type ReprocessStage,
  type NotifyReprocess,
} from './operations.js';
export { checkAdmin, type AdminCheck } from './check-admin.js';
export { AdminError, type AdminErrorCode } from './admin-error.js';
export type { MailStatus } from './views.js';

/**
 * The notify stage: subscribers, the Korean digest emails (render, size budget, encoding), their
 * delivery over SMTP or to the outbox, signed confirm/unsubscribe links and the public HTTP routes.
 * Knows nothing of queues: src/queue/notify-worker.ts runs it.
 */
export {
  checkAddress,
  subscriberIdOf,
  maskAddress,
  type CheckedAddress,
  type AddressCheck,
} from './address.js';
export { decodeCsvBytes, parseCsv, formatCsv, csvField, unprotectCell, type CsvRow } from './csv.js';
export {
  classifyDeliveryError,
  enhancedStatusOf,
  type SmtpFailure,
  type DeliveryAction,
  type DeliveryDecision,
} from './delivery-errors.js';
export {
  deliverDigest,
  composeDigestMail,
  LIST_NAME,
  type DigestSource,
  type SendOrder,
  type DeliverDeps,
  type DeliverOutcome,
} from './deliver.js';
export {
  entryFromStored,
  publicPostUrl,
  orderEntries,
  digestSubject,
  digestIds,
  dailyWindow,
  reportsInWindow,
  fitToBudget,
  koreanDate,
  koreanDateWithWeekday,
  DELIVERY_MODES,
  REPORT_TIME_ZONE,
  SUBJECT_PREFIX,
  FIRST_DIGEST_LOOKBACK_MS,
  MAX_DIGEST_LOOKBACK_MS,
  GMAIL_CLIP_BYTES,
  HTML_BUDGET_BYTES,
  type DeliveryMode,
  type DigestEntry,
  type DigestWindow,
  type Fitted,
} from './digest.js';
export {
  prepareDigest,
  personalPart,
  type PreparedDigest,
  type EncodedBody,
  type EncodedPart,
} from './encoded-body.js';
export {
  fanOut,
  planFanOut,
  digestIdOf,
  DEFAULT_FAN_OUT_PAGE,
  type DigestRequest,
  type FanOutDeps,
  type FanOutHooks,
  type FanOutResult,
  type PlannedPage,
} from './fan-out.js';
export {
  publicRoutes,
  publicRoutesWith,
  buildPublicServer,
  parseMultipartFields,
  type PublicRoutesOptions,
  type PublicPageView,
  type SubscribePageView,
} from './http.js';
export { notifyKeys, type NotifyKeys } from './keys.js';
export { createLinks, PUBLIC_PATHS, type LinkBuilder, type LinkOptions, type LinkSubject } from './links.js';
export {
  createMailer,
  createSmtpMailer,
  createOutboxMailer,
  buildRawMessage,
  toMessageOptions,
  parseMailbox,
  domainOf,
  SMTP_TIMEOUTS_MS,
  type Mailer,
  type MailAddress,
  type OutgoingMail,
  type SendResult,
  type SmtpMailerOptions,
  type OutboxMailerOptions,
} from './mailer.js';
export { NotifyError, type NotifyErrorCode } from './notify-error.js';
export { resolveNotifySettings, DEV_SECRET_FILE, type NotifySettings } from './notify-settings.js';
export {
  NotifyStore,
  SEND_MARKER_TTL_SECONDS,
  type BeginSend,
  type DigestStats,
  type DigestCounter,
} from './notify-store.js';
export { DigestRenderCache } from './render-cache.js';
export {
  renderDigest,
  personaliseDigest,
  renderConfirmation,
  digestView,
  inlineCss,
  escapeAttribute,
  UNSUBSCRIBE_URL_PLACEHOLDER,
  MAX_LINKED_ENTRIES,
  CONFIRM_SUBJECT,
  type DigestRenderInput,
  type RenderedDigest,
  type DigestView,
  type DigestEntryView,
  type ConfirmView,
  type PersonalLinks,
} from './render-digest.js';
export {
  parseDailyTime,
  cronPatternOf,
  nextDailyRun,
  previousDailyRun,
  instantOf,
  zonedParts,
  minuteStamp,
  systemClock,
  type Clock,
  type DailyTime,
  type ZonedParts,
} from './schedule.js';
export {
  SubscriberStore,
  nextStatus,
  parseMode,
  SUBSCRIBER_STATUSES,
  EXPORT_COLUMNS,
  type Subscriber,
  type SubscriberStatus,
  type SubscriberSource,
  type StatusEvent,
  type Transition,
  type ImportReport,
  type ImportRejection,
  type ImportOptions,
  type AddInput,
  type AddOutcome,
  type ActivePage,
} from './subscribers.js';
export {
  loadNotifyTemplates,
  defaultTemplatesDir,
  NOTIFY_TEMPLATE_FILES,
  type NotifyTemplates,
  type Renderer,
} from './templates.js';
export {
  signToken,
  readToken,
  verifyToken,
  tokenFromUnsubscribeSubject,
  CONFIRM_TOKEN_MAX_AGE_MS,
  UNSUBSCRIBE_TOKEN_MAX_AGE_MS,
  type TokenPurpose,
  type TokenClaims,
  type VerifyOptions,
} from './tokens.js';

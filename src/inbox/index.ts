export { DropFolder, type Deliver, type DropFolderOptions } from './drop-folder.js';
export {
  ImapWatcher,
  DEFAULT_TIMING,
  type ImapWatcherOptions,
  type ImapWatcherStatus,
  type ImapWatcherEvents,
  type WatcherTiming,
} from './imap-watcher.js';
export {
  imapSettingsFrom,
  senderPolicyFrom,
  settingsWarnings,
  describeImap,
  mailboxIdOf,
  parseProcessed,
  type ImapSettings,
  type ImapAuth,
  type ProcessedAction,
  type TlsMode,
} from './imap-settings.js';
export {
  decideSender,
  claimOf,
  readSenderHeaders,
  needsVerdict,
  type SenderPolicy,
  type SenderDecision,
  type SenderHeaders,
  type SenderClaim,
  type HoldCode,
  type VerificationMode,
} from './sender-policy.js';
export { createVerifier, type Verifier, type VerifierOptions, type DnsResolver } from './authenticate.js';
export { summarizeVerdict, type AuthVerdict } from './auth-verdict.js';
export { screenMessage, type Screened } from './screen.js';
export { Quarantine, type HeldMessage, type QuarantineOptions } from './quarantine.js';
export { runBackfill, type BackfillOptions, type BackfillProgress, type BackfillResult } from './backfill.js';
export { createBackfillProgressBar, type ProgressBar } from './backfill-progress.js';
export { checkImap, type ImapCheck } from './check-imap.js';
export {
  OAuth2TokenSource,
  accessTokenProviderFor,
  type AccessTokenProvider,
  type OAuth2Settings,
  type OAuth2TokenSourceOptions,
} from './oauth2.js';
export { evaluateWatchdog, GenuineMailClock, type WatchdogStatus } from './watchdog.js';
export { InboxError, type InboxErrorCode } from './inbox-error.js';

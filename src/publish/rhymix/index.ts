export { checkRhymix, type RhymixCheck } from './check-rhymix.js';
export {
  assertSendable,
  documentContent,
  documentFields,
  documentTags,
  machineTagFor,
} from './document-fields.js';
export { RedisSpacer, spacerKey, type RedisSpacerOptions } from './redis-spacer.js';
export {
  RhymixBoard,
  SPAM_FILTER_WINDOW_MS,
  type RhymixBoardDeps,
  type UpsertResult,
} from './rhymix-board.js';
export { RhymixClient, type RhymixClientOptions } from './rhymix-client.js';
export { isRhymixError, RhymixError, type RhymixErrorCode } from './rhymix-error.js';
export {
  publishTargetNamesFrom,
  rhymixSettingsFrom,
  siteBaseUrl,
  type PublishTargetName,
  type RhymixEnv,
  type RhymixFlavor,
  type RhymixSettings,
} from './rhymix-settings.js';
export { MemorySpacer, type Spacer } from './spacer.js';
export { readWriteForm, type WriteFormProbe } from './write-form.js';

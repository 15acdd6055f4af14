export { loadEnv, secretValues, describeEnv, type LoadConfigOptions } from './load.js';
export { ConfigError, type ConfigProblem } from './config-error.js';
export { SETTINGS, type Env, type SettingName } from './settings.js';
export { configTableMarkdown } from './docs.js';
export {
  crossFieldProblems,
  imapProblems,
  isDomainName,
  productionProblems,
  readCaFile,
  rhymixProblems,
  RHYMIX_REQUIRED,
  senderProblems,
  webhookProblems,
  type ImapPartEnv,
  type ProductionEnv,
  type RhymixPartEnv,
  type SenderPartEnv,
  type WebhookPartEnv,
} from './cross-checks.js';

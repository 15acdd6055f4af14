export { loadEnv, secretValues, describeEnv, type LoadConfigOptions } from './load.js';
export { ConfigError, type ConfigProblem } from './config-error.js';
export { SETTINGS, type Env, type SettingName } from './settings.js';
export { configTableMarkdown } from './docs.js';

export {
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_HEADER,
  signWebhook,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
  type WebhookDelivery,
} from './webhook-signature.js';
export { webhookSettingsFrom, type WebhookEnv, type WebhookSettings } from './webhook-settings.js';
export {
  EVENT_HEADER,
  WebhookTarget,
  type WebhookEvent,
  type WebhookExtras,
  type WebhookPayload,
  type WebhookTargetDeps,
} from './webhook-target.js';

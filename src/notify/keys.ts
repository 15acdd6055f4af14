/**
 * Where the notify stage keeps its data in Redis: under `<prefix>:data:notify:`, beside the
 * pipeline's own records (`<prefix>:data:…`) and BullMQ's keys (`<prefix>:<queue>:…`).
 */
export interface NotifyKeys {
  /** Hash: one subscriber's fields. */
  subscriber(id: string): string;
  /** Sorted set: every subscriber id, scored by creation time (list and export order). */
  readonly allSubscribers: string;
  /** Sorted set, all scores 0: active subscribers of one mode, paged by id (ZRANGEBYLEX). */
  active(mode: 'immediate' | 'daily'): string;
  /** Sorted set: report id → when it was published (ms): what daily digests choose from. */
  readonly published: string;
  /** String: the latest daily run (ms) whose fan-out has started (see `NotifyStore.fenceDaily`). */
  readonly dailyFence: string;
  /** Hash: subscriber id → JSON of the accepted send, per digest. */
  sent(digestId: string): string;
  /** Hash: subscriber id → JSON of the attempt in flight, per digest (see notify-store.ts). */
  sending(digestId: string): string;
  /** Hash: counters and facts of one digest (enqueued, sent, skipped, ambiguous, bounced, …). */
  digest(digestId: string): string;
  /**
   * String with a TTL: one subscribe-form request per address per period, so at most one
   * confirmation email (taken for active subscribers too, whose requests send nothing: see http.ts).
   */
  confirmThrottle(subscriberId: string): string;
}

export function notifyKeys(prefix: string): NotifyKeys {
  const p = `${prefix}:data:notify`;
  return {
    subscriber: (id) => `${p}:sub:${id}`,
    allSubscribers: `${p}:subs:all`,
    active: (mode) => `${p}:subs:active:${mode}`,
    published: `${p}:published`,
    dailyFence: `${p}:daily-fence`,
    sent: (digestId) => `${p}:sent:${digestId}`,
    sending: (digestId) => `${p}:sending:${digestId}`,
    digest: (digestId) => `${p}:digest:${digestId}`,
    confirmThrottle: (id) => `${p}:throttle:confirm:${id}`,
  };
}

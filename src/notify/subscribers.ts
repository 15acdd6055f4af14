import type { Redis } from 'ioredis';
import { checkAddress, subscriberIdOf } from './address.js';
import { decodeCsvBytes, formatCsv, parseCsv, unprotectCell } from './csv.js';
import { DELIVERY_MODES, type DeliveryMode } from './digest.js';
import { notifyKeys, type NotifyKeys } from './keys.js';
import { NotifyError } from './notify-error.js';
import { systemClock, type Clock } from './schedule.js';

/**
 * - `pending`: asked to subscribe on the web, has not clicked the confirmation link yet;
 * - `active`: gets email;
 * - `unsubscribed`: asked to stop (kept, so an import cannot quietly add them back);
 * - `bounced`: their mail server refused BOUNCE_LIMIT messages in a row.
 *
 * Someone unsubscribed or bounced who asks again on the public form stays so (with a
 * {@link ResubscribeRequest} beside it) until they click the emailed link: anyone can type an
 * address into the form, so the form alone must not lift an opt-out.
 */
export type SubscriberStatus = 'pending' | 'active' | 'unsubscribed' | 'bounced';
export const SUBSCRIBER_STATUSES: readonly SubscriberStatus[] = [
  'pending',
  'active',
  'unsubscribed',
  'bounced',
];

/** Who created or last changed a subscriber. */
export type SubscriberSource = 'cli' | 'import' | 'web' | 'mail';

/**
 * An opted-out subscriber's request, on the public form, to get email again: what they asked for,
 * applied only when they click the confirmation link it sent.
 */
export interface ResubscribeRequest {
  readonly requestedAt: string;
  readonly mode: DeliveryMode;
  /** The name typed into the form; null: none (the stored name is kept). */
  readonly name: string | null;
}

/** One subscriber as stored. Times are ISO 8601; `dailyCoveredUntil` is milliseconds. */
export interface Subscriber {
  readonly id: string;
  readonly address: string;
  readonly name: string | null;
  readonly mode: DeliveryMode;
  readonly status: SubscriberStatus;
  readonly source: SubscriberSource;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly confirmedAt: string | null;
  readonly unsubscribedAt: string | null;
  readonly bouncedAt: string | null;
  /** Permanent rejections in a row (reset by a delivery). */
  readonly bounceCount: number;
  readonly lastBounceReason: string | null;
  readonly lastBounceAt: string | null;
  /** Publish time up to which this subscriber's daily digests have covered reports. */
  readonly dailyCoveredUntil: number | null;
  /** Unsubscribed or bounced, and asked on the web to come back: not confirmed yet. */
  readonly resubscribe: ResubscribeRequest | null;
}

/** What happens to a subscriber's status. */
export type StatusEvent =
  /** `subscribers add` or `import`: the admin vouches for consent. */
  | 'admin-add'
  /** The same with `--force`: also brings back someone who unsubscribed or bounced. */
  | 'admin-add-force'
  /** The public subscribe form: double opt-in. */
  | 'web-subscribe'
  /** The confirmation link. */
  | 'confirm'
  /** The confirmation link of a re-subscription request made after unsubscribing or bouncing. */
  | 'confirm-resubscribe'
  /** An unsubscribe link, one-click POST, or `subscribers remove`. */
  | 'unsubscribe'
  /** BOUNCE_LIMIT permanent rejections in a row. */
  | 'bounce-limit';

export type Transition =
  { readonly ok: true; readonly status: SubscriberStatus } | { readonly ok: false; readonly reason: string };

/**
 * The status transitions, in one pure table. `current` null: no record yet. Notable refusals: an
 * admin cannot re-add someone who opted out without `--force`; a confirmation link does nothing for
 * someone who has since unsubscribed (an old link must not re-subscribe them). A web subscription by
 * an active subscriber changes nothing (no email: the form must not tell who is subscribed); by
 * someone who opted out it keeps the opt-out (the request is kept beside it, see
 * {@link checkConfirmation}).
 */
export function nextStatus(current: SubscriberStatus | null, event: StatusEvent): Transition {
  const to = (status: SubscriberStatus): Transition => ({ ok: true, status });
  switch (event) {
    case 'admin-add':
      if (current === 'unsubscribed' || current === 'bounced') {
        return { ok: false, reason: `${current}; re-adding needs --force (and their consent)` };
      }
      return to('active');
    case 'admin-add-force':
      return to('active');
    case 'web-subscribe':
      return to(current === null ? 'pending' : current);
    case 'confirm':
      if (current === 'pending' || current === 'active') return to('active');
      return { ok: false, reason: current === null ? 'no such subscriber' : `already ${current}` };
    case 'confirm-resubscribe':
      if (current === null) return { ok: false, reason: 'no such subscriber' };
      return to('active');
    case 'unsubscribe':
      if (current === null) return { ok: false, reason: 'no such subscriber' };
      return to('unsubscribed');
    case 'bounce-limit':
      if (current === null) return { ok: false, reason: 'no such subscriber' };
      return to(current === 'active' ? 'bounced' : current);
  }
}

/**
 * Whether a confirmation link issued at `linkIssuedAt` (ms) confirms this subscriber (pure; the
 * confirm page and the POST behind its button both ask it). A pending subscriber: yes. Someone who
 * unsubscribed or bounced: only with a re-subscription request from the public form and a link sent
 * after they opted out — an older confirmation link must not bring them back.
 */
export function checkConfirmation(subscriber: Subscriber, linkIssuedAt: number): Transition {
  const { status, resubscribe } = subscriber;
  if (status !== 'unsubscribed' && status !== 'bounced') return nextStatus(status, 'confirm');
  if (resubscribe === null) return nextStatus(status, 'confirm');
  // Tokens carry whole seconds.
  const optedOutAt = Date.parse(
    (status === 'unsubscribed' ? subscriber.unsubscribedAt : subscriber.bouncedAt) ?? '',
  );
  if (Number.isFinite(optedOutAt) && Math.floor(linkIssuedAt / 1000) < Math.floor(optedOutAt / 1000)) {
    return { ok: false, reason: `already ${status}; the link is older than that` };
  }
  return nextStatus(status, 'confirm-resubscribe');
}

/**
 * The status that decides what an admin may do with a record. A `pending` record that still carries
 * an unsubscribe or bounce time was made by older versions, which turned an opted-out subscriber
 * into `pending` when anyone typed their address into the public form: it is still opted out.
 */
function adminStatusOf(current: Subscriber | null): SubscriberStatus | null {
  if (current?.status !== 'pending') return current?.status ?? null;
  if (current.unsubscribedAt !== null) return 'unsubscribed';
  if (current.bouncedAt !== null) return 'bounced';
  return 'pending';
}

/** One rejected row of an import, with why. */
export interface ImportRejection {
  readonly line: number;
  readonly address: string;
  readonly reason: string;
}

export interface ImportReport {
  /** How the file was decoded (Korean Excel writes CP949). */
  readonly encoding: 'utf-8' | 'cp949';
  /** Data rows read (the header not counted). */
  readonly rows: number;
  readonly added: number;
  readonly updated: number;
  /** Rows that matched a subscriber exactly. */
  readonly unchanged: number;
  readonly rejected: readonly ImportRejection[];
}

export interface ImportOptions {
  /** Mode of rows without one. */
  readonly defaultMode?: DeliveryMode;
  /** Re-activate people who unsubscribed or bounced (only with their consent). */
  readonly force?: boolean;
  /** Check everything and report, write nothing. */
  readonly dryRun?: boolean;
}

export interface AddInput {
  readonly address: string;
  readonly name?: string | null;
  readonly mode?: DeliveryMode;
  readonly source: SubscriberSource;
  readonly force?: boolean;
}

export type AddOutcome = 'added' | 'updated' | 'unchanged';

/** A page of active subscribers for the fan-out. */
export interface ActivePage {
  readonly ids: readonly string[];
  /** For daily pages: each id's `dailyCoveredUntil` (same order). */
  readonly coveredUntil: readonly (number | null)[];
  /** Pass to the next call; null when this was the last page. */
  readonly next: string | null;
}

// Compare-and-set on the status and re-subscription request fields (see versionOf), then keep the
// indexes in step, all in one atomic script: WATCH cannot be used on a connection that BullMQ and
// the pipeline share.
const UPDATE_SCRIPT = `
local cur = redis.call('HMGET', KEYS[1], 'status', 'resubRequestedAt')
local expected = ARGV[2]
if expected == '' then
  if cur[1] then return {'conflict', cur[1]} end
elseif (cur[1] or '') .. '|' .. (cur[2] or '') ~= expected then
  return {'conflict', cur[1] or ''}
end
for i = 4, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
local status = redis.call('HGET', KEYS[1], 'status')
local mode = redis.call('HGET', KEYS[1], 'mode')
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if status == 'active' then
  if mode == 'daily' then redis.call('ZADD', KEYS[4], 0, ARGV[1]) else redis.call('ZADD', KEYS[3], 0, ARGV[1]) end
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1])
return {'ok', cur[1] or ''}
`;

const BOUNCE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, ''} end
local count = redis.call('HINCRBY', KEYS[1], 'bounceCount', 1)
redis.call('HSET', KEYS[1], 'lastBounceReason', ARGV[2], 'lastBounceAt', ARGV[3], 'updatedAt', ARGV[3])
local status = redis.call('HGET', KEYS[1], 'status')
if count >= tonumber(ARGV[4]) and status == 'active' then
  redis.call('HSET', KEYS[1], 'status', 'bounced', 'bouncedAt', ARGV[3])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  status = 'bounced'
end
return {count, status}
`;

// Only ever moves forward, and never re-creates a subscriber removed meanwhile.
const COVERED_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'dailyCoveredUntil') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'dailyCoveredUntil', ARGV[1]) return 1 end
return 0
`;

const PURGE_SCRIPT = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
`;

const BATCH = 500;
const MAX_CAS_RETRIES = 5;

/** A change to a subscriber: the fields to set (null deletes) and the record it was decided from. */
interface Change {
  readonly id: string;
  /**
   * The record as read: the write applies only if its status and re-subscription request are still
   * the same (a request withdrawn meanwhile changes the second, not the first); null: it must not
   * exist.
   */
  readonly expected: Subscriber | null;
  readonly createdMs: number;
  readonly fields: Readonly<Record<string, string | null>>;
}

/**
 * Subscribers in Redis (see keys.ts): one hash each, an index of all of them and one of the active
 * ones per mode, kept in step by Lua scripts. Decisions (which status, which fields) are made in
 * TypeScript from the record just read and written with a compare-and-set on its status, retried
 * when someone else changed it in between.
 */
export class SubscriberStore {
  readonly keys: NotifyKeys;
  private readonly redis: Redis;
  private readonly now: Clock;

  constructor(redis: Redis, prefix: string, clock: Clock = systemClock) {
    this.redis = redis;
    this.keys = notifyKeys(prefix);
    this.now = clock;
  }

  async get(id: string): Promise<Subscriber | null> {
    return parseSubscriber(await this.redis.hgetall(this.keys.subscriber(id)));
  }

  /** The subscriber with this address (any case), or null; throws for an invalid address. */
  async getByAddress(address: string): Promise<Subscriber | null> {
    return this.get(subscriberIdOf(checked(address).key));
  }

  /**
   * `subscribers add`: create an active subscriber or update one's name and mode. Someone who
   * unsubscribed or bounced is refused unless `force`.
   *
   * @throws NotifyError `INVALID_ADDRESS`, `SUBSCRIBER_OPTED_OUT`
   */
  async add(input: AddInput): Promise<{ subscriber: Subscriber; outcome: AddOutcome }> {
    const { address, key } = checked(input.address);
    const id = subscriberIdOf(key);
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt += 1) {
      const current = await this.get(id);
      const plan = planAdd(current, { ...input, address, id }, this.now());
      if (!plan.ok)
        throw new NotifyError('SUBSCRIBER_OPTED_OUT', `${address} is ${plan.reason}`, { details: { id } });
      if (plan.change === null) return { subscriber: current as Subscriber, outcome: 'unchanged' };
      if (await this.apply(plan.change))
        return { subscriber: (await this.get(id)) as Subscriber, outcome: plan.outcome };
    }
    throw new Error(`subscriber ${id} kept changing while it was being updated`);
  }

  /**
   * The public form. A new or pending address becomes (stays) `pending` and needs a confirmation
   * email; an active one is left alone (and gets no email). Someone who unsubscribed or bounced
   * keeps that status, name and mode: the request is stored beside them and applied only by the
   * confirmation link (see {@link checkConfirmation}). A blank name keeps the stored one.
   *
   * @throws NotifyError `INVALID_ADDRESS`
   */
  async requestSubscription(input: {
    readonly address: string;
    readonly name?: string | null;
    readonly mode: DeliveryMode;
  }): Promise<{ subscriber: Subscriber; needsConfirmation: boolean }> {
    const { address, key } = checked(input.address);
    const id = subscriberIdOf(key);
    const name = cleanName(input.name ?? null);
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt += 1) {
      const current = await this.get(id);
      if (current?.status === 'active') return { subscriber: current, needsConfirmation: false };
      const at = new Date(this.now()).toISOString();
      const fields: Record<string, string | null> =
        current === null || current.status === 'pending'
          ? {
              id,
              address,
              mode: input.mode,
              status: 'pending',
              source: current?.source ?? 'web',
              updatedAt: at,
              createdAt: current?.createdAt ?? at,
              pendingSince: at,
              ...(name === null ? {} : { name }),
            }
          : { resubRequestedAt: at, resubMode: input.mode, resubName: name, updatedAt: at };
      if (await this.apply({ id, expected: current, createdMs: this.now(), fields })) {
        return { subscriber: (await this.get(id)) as Subscriber, needsConfirmation: true };
      }
    }
    throw new Error(`subscriber ${id} kept changing while it was being updated`);
  }

  /**
   * The confirmation link: pending → active, or an unsubscribed or bounced subscriber's
   * re-subscription request → active with the mode (and name) asked for. Confirming twice is
   * harmless.
   *
   * @param linkIssuedAt When the link was issued (ms; its token's `issuedAt`).
   * @throws NotifyError `SUBSCRIBER_NOT_FOUND`, or `TOKEN_INVALID` for someone who unsubscribed or
   *   bounced since the link was sent (an old confirmation link must not bring them back)
   */
  async confirm(id: string, linkIssuedAt: number): Promise<Subscriber> {
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt += 1) {
      const current = await this.get(id);
      if (current === null) throw new NotifyError('SUBSCRIBER_NOT_FOUND', `no subscriber ${id}`);
      const t = checkConfirmation(current, linkIssuedAt);
      if (!t.ok)
        throw new NotifyError('TOKEN_INVALID', `this confirmation link no longer applies: ${t.reason}`);
      if (current.status === 'active') return current;
      const at = new Date(this.now()).toISOString();
      const fields: Record<string, string | null> = {
        status: 'active',
        confirmedAt: at,
        updatedAt: at,
        bounceCount: '0',
        dailyCoveredUntil: null,
        ...RESUBSCRIBE_CLEARED,
      };
      const request = current.resubscribe;
      if (request !== null) {
        fields.mode = request.mode;
        if (request.name !== null) fields.name = request.name;
        fields.source = 'web';
      }
      if (await this.apply({ id, expected: current, createdMs: this.now(), fields })) {
        return (await this.get(id)) as Subscriber;
      }
    }
    throw new Error(`subscriber ${id} kept changing while it was being confirmed`);
  }

  /**
   * Stop mailing a subscriber (link, one-click POST, `subscribers remove`). Idempotent: `changed` is
   * false when they had already unsubscribed. Someone unsubscribed with a re-subscription request
   * pending withdraws it (and a confirmation link sent for it no longer works).
   *
   * @throws NotifyError `SUBSCRIBER_NOT_FOUND`
   */
  async unsubscribe(
    id: string,
    source: SubscriberSource,
  ): Promise<{ subscriber: Subscriber; changed: boolean }> {
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt += 1) {
      const current = await this.get(id);
      if (current === null) throw new NotifyError('SUBSCRIBER_NOT_FOUND', `no subscriber ${id}`);
      if (current.status === 'unsubscribed' && current.resubscribe === null)
        return { subscriber: current, changed: false };
      const at = new Date(this.now()).toISOString();
      const fields = {
        status: 'unsubscribed',
        unsubscribedAt: at,
        updatedAt: at,
        source,
        ...RESUBSCRIBE_CLEARED,
      };
      if (await this.apply({ id, expected: current, createdMs: this.now(), fields })) {
        return { subscriber: (await this.get(id)) as Subscriber, changed: true };
      }
    }
    throw new Error(`subscriber ${id} kept changing while it was being unsubscribed`);
  }

  /**
   * Delete a subscriber's record entirely (a request to erase their data). Unlike unsubscribing,
   * nothing then stops a later import from adding the address again.
   */
  async purge(id: string): Promise<boolean> {
    const existed = (await this.redis.exists(this.keys.subscriber(id))) === 1;
    await this.redis.eval(
      PURGE_SCRIPT,
      4,
      this.keys.subscriber(id),
      this.keys.allSubscribers,
      this.keys.active('immediate'),
      this.keys.active('daily'),
      id,
    );
    return existed;
  }

  /**
   * Count a permanent rejection (SMTP 5xx on the recipient); at `limit` in a row an active
   * subscriber becomes `bounced` and is no longer mailed. The reason is kept on the record.
   */
  async recordBounce(
    id: string,
    reason: string,
    limit: number,
  ): Promise<{ count: number; status: SubscriberStatus | null }> {
    const at = new Date(this.now()).toISOString();
    const [count, status] = (await this.redis.eval(
      BOUNCE_SCRIPT,
      3,
      this.keys.subscriber(id),
      this.keys.active('immediate'),
      this.keys.active('daily'),
      id,
      reason.slice(0, 500),
      at,
      String(limit),
    )) as [number, string];
    return { count, status: status === '' ? null : (status as SubscriberStatus) };
  }

  /**
   * One page of active subscribers of a mode, in id order, after `after` (exclusive). Paging by id
   * rather than by offset keeps a half-done fan-out resumable while subscribers come and go.
   */
  async pageActive(mode: DeliveryMode, after: string | null, limit: number): Promise<ActivePage> {
    const ids = await this.redis.zrangebylex(
      this.keys.active(mode),
      after === null ? '-' : `(${after}`,
      '+',
      'LIMIT',
      0,
      limit,
    );
    let coveredUntil: (number | null)[] = ids.map(() => null);
    if (mode === 'daily' && ids.length > 0) {
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hget(this.keys.subscriber(id), 'dailyCoveredUntil');
      const results = (await pipeline.exec()) ?? [];
      coveredUntil = results.map(([err, value]) => {
        if (err !== null) throw err;
        return typeof value === 'string' && value !== '' ? Number(value) : null;
      });
    }
    return { ids, coveredUntil, next: ids.length < limit ? null : (ids[ids.length - 1] ?? null) };
  }

  /** Move subscribers' daily coverage forward (never back), in one round trip. */
  async advanceCoveredUntil(
    updates: readonly { readonly id: string; readonly until: number }[],
  ): Promise<void> {
    if (updates.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const u of updates) pipeline.eval(COVERED_SCRIPT, 1, this.keys.subscriber(u.id), String(u.until));
    for (const [err] of (await pipeline.exec()) ?? []) if (err !== null) throw err;
  }

  /** Every subscriber, oldest first, read in batches (memory stays flat for long lists). */
  async *iterate(
    filter: { readonly status?: SubscriberStatus; readonly mode?: DeliveryMode } = {},
  ): AsyncGenerator<Subscriber> {
    for (let offset = 0; ; offset += BATCH) {
      const ids = await this.redis.zrange(
        this.keys.allSubscribers,
        String(offset),
        String(offset + BATCH - 1),
      );
      if (ids.length === 0) return;
      for (const s of await this.getMany(ids)) {
        if (s === null) continue;
        if (filter.status !== undefined && s.status !== filter.status) continue;
        if (filter.mode !== undefined && s.mode !== filter.mode) continue;
        yield s;
      }
      if (ids.length < BATCH) return;
    }
  }

  /** How many subscribers there are per status, and active ones per mode. */
  async counts(): Promise<{ total: number; activeImmediate: number; activeDaily: number }> {
    const [total, activeImmediate, activeDaily] = await Promise.all([
      this.redis.zcard(this.keys.allSubscribers),
      this.redis.zcard(this.keys.active('immediate')),
      this.redis.zcard(this.keys.active('daily')),
    ]);
    return { total, activeImmediate, activeDaily };
  }

  /**
   * `subscribers import <file.csv>`: add or update every row, and report how many were added,
   * updated or unchanged and which were rejected and why (invalid address, bad mode, duplicate in
   * the file, opted out). Columns by header (`address`/`email`/`이메일`, `name`/`이름`,
   * `mode`/`수신`, `status`); without a header row: address, name, mode. A `status` column is
   * honoured so that an export imported elsewhere keeps its unsubscribes.
   */
  async importCsv(bytes: Buffer, options: ImportOptions = {}): Promise<ImportReport> {
    const { text, encoding } = decodeCsvBytes(bytes);
    const rows = parseCsv(text);
    const columns = columnsOf(rows[0]?.fields ?? []);
    const data = columns.header ? rows.slice(1) : rows;
    const rejected: ImportRejection[] = [];
    const seen = new Map<string, number>();
    let added = 0;
    let updated = 0;
    let unchanged = 0;
    const valid: { line: number; id: string; input: AddInput & { status: SubscriberStatus | null } }[] = [];
    const defaultMode = options.defaultMode ?? 'daily';
    for (const row of data) {
      const cell = (i: number | null): string =>
        i === null ? '' : unprotectCell(row.fields[i]?.trim() ?? '');
      const rawAddress = cell(columns.address);
      const check = checkAddress(rawAddress);
      if (!check.ok) {
        rejected.push({ line: row.line, address: rawAddress, reason: `invalid address: ${check.reason}` });
        continue;
      }
      const first = seen.get(check.key);
      if (first !== undefined) {
        rejected.push({ line: row.line, address: check.address, reason: `duplicate of line ${first}` });
        continue;
      }
      seen.set(check.key, row.line);
      const modeText = cell(columns.mode);
      // An empty cell keeps an existing subscriber's mode (and name); the default is for new ones.
      const mode = modeText === '' ? undefined : parseMode(modeText);
      if (mode === null) {
        rejected.push({
          line: row.line,
          address: check.address,
          reason: `unknown mode "${modeText}" (immediate or daily)`,
        });
        continue;
      }
      const statusText = cell(columns.status).toLowerCase();
      const status =
        statusText === '' ? null : (SUBSCRIBER_STATUSES.find((s) => s === statusText) ?? undefined);
      if (status === undefined) {
        rejected.push({ line: row.line, address: check.address, reason: `unknown status "${statusText}"` });
        continue;
      }
      const name = cell(columns.name);
      valid.push({
        line: row.line,
        id: subscriberIdOf(check.key),
        input: {
          address: check.address,
          ...(name === '' ? {} : { name }),
          ...(mode === undefined ? {} : { mode }),
          source: 'import',
          force: options.force === true,
          status,
        },
      });
    }
    // Read the existing records a batch at a time, decide, write the batch in one round trip;
    // a row whose record changed in between is retried on its own.
    for (let i = 0; i < valid.length; i += BATCH) {
      const batch = valid.slice(i, i + BATCH);
      const existing = await this.getMany(batch.map((b) => b.id));
      const now = this.now();
      const planned: { row: (typeof batch)[number]; change: Change; outcome: AddOutcome }[] = [];
      batch.forEach((row, j) => {
        const plan = planImport(existing[j] ?? null, { ...row.input, id: row.id }, now, defaultMode);
        if (!plan.ok) rejected.push({ line: row.line, address: row.input.address, reason: plan.reason });
        else if (plan.change === null) unchanged += 1;
        else planned.push({ row, change: plan.change, outcome: plan.outcome });
      });
      if (options.dryRun === true) {
        for (const p of planned)
          if (p.outcome === 'added') added += 1;
          else updated += 1;
        continue;
      }
      const results = await this.applyMany(planned.map((p) => p.change));
      for (const [k, p] of planned.entries()) {
        let outcome: AddOutcome | ImportRejection = p.outcome;
        if (results[k] !== true)
          outcome = await this.retryImportRow(p.row.id, p.row.input, p.row.line, defaultMode);
        if (typeof outcome === 'object') rejected.push(outcome);
        else if (outcome === 'added') added += 1;
        else if (outcome === 'updated') updated += 1;
        else unchanged += 1;
      }
    }
    rejected.sort((a, b) => a.line - b.line);
    return { encoding, rows: data.length, added, updated, unchanged, rejected };
  }

  /** Every subscriber as CSV (UTF-8, CRLF), the columns `importCsv` reads first. */
  async *exportCsv(): AsyncGenerator<string> {
    yield formatCsv([EXPORT_COLUMNS]);
    let rows: string[][] = [];
    for await (const s of this.iterate()) {
      rows.push([
        s.address,
        s.name ?? '',
        s.mode,
        s.status,
        s.createdAt,
        s.confirmedAt ?? '',
        s.unsubscribedAt ?? '',
        s.bouncedAt ?? '',
        String(s.bounceCount),
        s.lastBounceReason ?? '',
      ]);
      if (rows.length >= BATCH) {
        yield formatCsv(rows);
        rows = [];
      }
    }
    if (rows.length > 0) yield formatCsv(rows);
  }

  private async retryImportRow(
    id: string,
    input: AddInput & { status: SubscriberStatus | null },
    line: number,
    defaultMode: DeliveryMode,
  ): Promise<AddOutcome | ImportRejection> {
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt += 1) {
      const plan = planImport(await this.get(id), { ...input, id }, this.now(), defaultMode);
      if (!plan.ok) return { line, address: input.address, reason: plan.reason };
      if (plan.change === null) return 'unchanged';
      if (await this.apply(plan.change)) return plan.outcome;
    }
    return {
      line,
      address: input.address,
      reason: 'the record kept changing during the import; import it again',
    };
  }

  /** Several subscribers in one round trip, in the order asked (null for an unknown id). */
  async getMany(ids: readonly string[]): Promise<(Subscriber | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.subscriber(id));
    return ((await pipeline.exec()) ?? []).map(([err, value]) => {
      if (err !== null) throw err;
      return parseSubscriber(value as Record<string, string>);
    });
  }

  private updateArgs(change: Change): (string | number)[] {
    const args: (string | number)[] = [
      this.keys.subscriber(change.id),
      this.keys.allSubscribers,
      this.keys.active('immediate'),
      this.keys.active('daily'),
      change.id,
      versionOf(change.expected),
      change.createdMs,
    ];
    for (const [field, value] of Object.entries(change.fields)) args.push(field, value ?? '');
    return args;
  }

  /** Write one change; false when the status was no longer the expected one. */
  private async apply(change: Change): Promise<boolean> {
    const [result] = (await this.redis.eval(UPDATE_SCRIPT, 4, ...this.updateArgs(change))) as [
      string,
      string,
    ];
    return result === 'ok';
  }

  private async applyMany(changes: readonly Change[]): Promise<boolean[]> {
    if (changes.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const c of changes) pipeline.eval(UPDATE_SCRIPT, 4, ...this.updateArgs(c));
    return ((await pipeline.exec()) ?? []).map(([err, value]) => {
      if (err !== null) throw err;
      return Array.isArray(value) && value[0] === 'ok';
    });
  }
}

export const EXPORT_COLUMNS = [
  'address',
  'name',
  'mode',
  'status',
  'created_at',
  'confirmed_at',
  'unsubscribed_at',
  'bounced_at',
  'bounce_count',
  'last_bounce_reason',
];

/** The fields of a re-subscription request, deleted (the request is granted or withdrawn). */
const RESUBSCRIBE_CLEARED = { resubRequestedAt: null, resubMode: null, resubName: null } as const;

/** What UPDATE_SCRIPT compares: status and re-subscription request time; '' for no record. */
function versionOf(s: Subscriber | null): string {
  return s === null ? '' : `${s.status}|${s.resubscribe?.requestedAt ?? ''}`;
}

function checked(address: string): { address: string; key: string } {
  const check = checkAddress(address);
  if (!check.ok)
    throw new NotifyError('INVALID_ADDRESS', `"${address}" is not a valid address: ${check.reason}`);
  return check;
}

/** Names are shown in the To header: one line, no control characters, not absurdly long. */
function cleanName(name: string | null): string | null {
  if (name === null) return null;
  const clean = name
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100);
  return clean === '' ? null : clean;
}

/** `immediate`/`daily`, also in Korean (즉시/매일, 일간); null when unknown. */
export function parseMode(text: string): DeliveryMode | null {
  const t = text.trim().toLowerCase();
  if (DELIVERY_MODES.includes(t as DeliveryMode)) return t as DeliveryMode;
  if (t === '즉시' || t === '실시간') return 'immediate';
  if (t === '매일' || t === '일간' || t === '하루' || t === 'digest') return 'daily';
  return null;
}

const HEADER_NAMES: Record<'address' | 'name' | 'mode' | 'status', readonly string[]> = {
  address: ['address', 'email', 'e-mail', 'mail', 'email address', '이메일', '메일', '주소', '이메일 주소'],
  name: ['name', 'full name', '이름', '성명'],
  mode: ['mode', 'delivery', '수신', '방식', '수신 방식'],
  status: ['status', '상태'],
};

interface Columns {
  readonly header: boolean;
  readonly address: number;
  readonly name: number | null;
  readonly mode: number | null;
  readonly status: number | null;
}

function columnsOf(first: readonly string[]): Columns {
  const names = first.map((f) =>
    f
      .replace(/^\uFEFF/, '')
      .trim()
      .toLowerCase(),
  );
  const find = (key: keyof typeof HEADER_NAMES): number | null => {
    const i = names.findIndex((n) => HEADER_NAMES[key].includes(n));
    return i < 0 ? null : i;
  };
  const address = find('address');
  if (address !== null)
    return { header: true, address, name: find('name'), mode: find('mode'), status: find('status') };
  if ((first[0] ?? '').includes('@')) return { header: false, address: 0, name: 1, mode: 2, status: null };
  throw new NotifyError('CSV_INVALID', 'the first row names no address column and is not an address');
}

type Plan =
  | { readonly ok: true; readonly change: Change | null; readonly outcome: AddOutcome }
  | { readonly ok: false; readonly reason: string };

/** Decide what `add` does to the current record (pure). */
function planAdd(current: Subscriber | null, input: AddInput & { id: string }, now: number): Plan {
  const t = nextStatus(adminStatusOf(current), input.force === true ? 'admin-add-force' : 'admin-add');
  if (!t.ok) return { ok: false, reason: t.reason };
  return planWrite(current, input, t.status, now);
}

/** Decide what one import row does (pure); see {@link SubscriberStore.importCsv}. */
function planImport(
  current: Subscriber | null,
  row: AddInput & { id: string; status: SubscriberStatus | null },
  now: number,
  defaultMode: DeliveryMode,
): Plan {
  // A row without a mode keeps the subscriber's; a new subscriber gets the import's default.
  const input = row.mode === undefined && current === null ? { ...row, mode: defaultMode } : row;
  if (input.status === 'unsubscribed' || input.status === 'bounced') {
    // A suppression row: always honoured (it can only stop mail, never start it).
    return planWrite(current, input, current?.status === 'unsubscribed' ? 'unsubscribed' : input.status, now);
  }
  if (input.status === 'pending') return planWrite(current, input, current?.status ?? 'pending', now);
  const plan = planAdd(current, input, now);
  return plan.ok ? plan : { ok: false, reason: `opted out: ${plan.reason}` };
}

function planWrite(
  current: Subscriber | null,
  input: AddInput & { id: string },
  status: SubscriberStatus,
  now: number,
): Plan {
  const at = new Date(now).toISOString();
  const name = input.name === undefined ? (current?.name ?? null) : cleanName(input.name);
  const mode = input.mode ?? current?.mode ?? 'daily';
  if (current === null) {
    const fields: Record<string, string | null> = {
      id: input.id,
      address: input.address,
      name,
      mode,
      status,
      source: input.source,
      createdAt: at,
      updatedAt: at,
      bounceCount: '0',
      confirmedAt: status === 'active' ? at : null,
      unsubscribedAt: status === 'unsubscribed' ? at : null,
      bouncedAt: status === 'bounced' ? at : null,
    };
    return { ok: true, outcome: 'added', change: { id: input.id, expected: null, createdMs: now, fields } };
  }
  if (current.name === name && current.mode === mode && current.status === status) {
    return { ok: true, outcome: 'unchanged', change: null };
  }
  const fields: Record<string, string | null> = { name, mode, status, updatedAt: at, source: input.source };
  if (status !== current.status) {
    if (status === 'active')
      Object.assign(fields, {
        confirmedAt: at,
        bounceCount: '0',
        dailyCoveredUntil: null,
        ...RESUBSCRIBE_CLEARED,
      });
    if (status === 'unsubscribed') fields.unsubscribedAt = at;
    if (status === 'bounced') fields.bouncedAt = at;
  }
  // Switching to daily: the first digest starts now, not a day back (they had those reports already).
  if (mode === 'daily' && current.mode !== 'daily') fields.dailyCoveredUntil = String(now);
  return {
    ok: true,
    outcome: 'updated',
    change: {
      id: input.id,
      expected: current,
      createdMs: Date.parse(current.createdAt) || now,
      fields,
    },
  };
}

function parseSubscriber(h: Record<string, string>): Subscriber | null {
  if (h.id === undefined || h.address === undefined || h.status === undefined) return null;
  const opt = (v: string | undefined): string | null => (v === undefined || v === '' ? null : v);
  return {
    id: h.id,
    address: h.address,
    name: opt(h.name),
    mode: h.mode === 'immediate' ? 'immediate' : 'daily',
    status: SUBSCRIBER_STATUSES.find((s) => s === h.status) ?? 'pending',
    source: h.source === 'cli' || h.source === 'import' || h.source === 'mail' ? h.source : 'web',
    createdAt: h.createdAt ?? '',
    updatedAt: h.updatedAt ?? '',
    confirmedAt: opt(h.confirmedAt),
    unsubscribedAt: opt(h.unsubscribedAt),
    bouncedAt: opt(h.bouncedAt),
    bounceCount: Number(h.bounceCount ?? 0) || 0,
    lastBounceReason: opt(h.lastBounceReason),
    lastBounceAt: opt(h.lastBounceAt),
    dailyCoveredUntil: opt(h.dailyCoveredUntil) === null ? null : Number(h.dailyCoveredUntil),
    resubscribe:
      h.resubRequestedAt === undefined || h.resubRequestedAt === ''
        ? null
        : {
            requestedAt: h.resubRequestedAt,
            mode: h.resubMode === 'immediate' ? 'immediate' : 'daily',
            name: opt(h.resubName),
          },
  };
}

import type { Redis } from 'ioredis';
import type { Report } from '../parse/index.js';
import type { SummaryRecord } from '../summarize/summary.js';
import type { EmailOrigin } from './names.js';

/** What the pipeline knows about one email it was handed. */
export interface EmailRecord {
  readonly emailId: string;
  readonly origin: EmailOrigin;
  readonly size: number;
  readonly storedAt: string;
}

/** A published post on one target (board), so a re-run edits it instead of posting again. */
export interface PostRecord {
  readonly reportId: string;
  readonly target: string;
  readonly id: string;
  readonly url: string;
  readonly key: string;
  readonly title: string;
  readonly publishedAt: string;
  readonly updatedAt: string;
  readonly revisions: number;
}

/** An email that could not become a report, kept with its reason for the admins. */
export interface Rejection {
  readonly emailId: string;
  readonly origin: EmailOrigin;
  readonly code: string;
  readonly reason: string;
  readonly at: string;
}

export type StageName = 'ingest' | 'summarize' | 'publish';
export interface StageStatus {
  /**
   * `held`: an admin held the report (see `Holds`), so the stage did nothing. `waiting`: the stage's
   * job waits to try again (the LLM cannot be reached, rate-limits us, or an attempt failed and
   * backs off); `detail` says why and `retryAt` when. A later success or final failure replaces it.
   */
  readonly state: 'done' | 'failed' | 'skipped' | 'held' | 'waiting';
  readonly at: string;
  readonly detail?: string;
  /** The BullMQ job of a failed or waiting stage, so an admin can retry (or run now) exactly that job. */
  readonly jobId?: string;
  /** `waiting`: when the job tries again (ISO 8601), as far as the queue knows. */
  readonly retryAt?: string;
}

/**
 * Reports, summaries, post records and the raw emails, in Redis under one key prefix
 * (`<prefix>:data:…`), beside BullMQ's own keys. Writes that must happen once use SET NX.
 */
export class Store {
  private readonly redis: Redis;
  private readonly p: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.p = `${prefix}:data`;
  }

  /** Keep the raw email (first write wins: the same id always has the same bytes). */
  async putEmail(emailId: string, raw: Buffer, origin: EmailOrigin): Promise<boolean> {
    const record: EmailRecord = { emailId, origin, size: raw.length, storedAt: new Date().toISOString() };
    const [[, created] = []] =
      (await this.redis
        .multi()
        .set(`${this.p}:email:${emailId}:raw`, raw, 'NX')
        .set(`${this.p}:email:${emailId}`, JSON.stringify(record), 'NX')
        .exec()) ?? [];
    return created === 'OK';
  }

  async getEmailRaw(emailId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(`${this.p}:email:${emailId}:raw`);
  }

  async getEmail(emailId: string): Promise<EmailRecord | null> {
    return this.getJson<EmailRecord>(`${this.p}:email:${emailId}`);
  }

  /**
   * Claim a report's content fingerprint for a report id. Returns the id that owns it: this one,
   * or the id of an earlier report with the same content (a forwarded copy, say).
   */
  async claimFingerprint(fingerprint: string, reportId: string): Promise<string> {
    const key = `${this.p}:fp:${fingerprint}`;
    const set = await this.redis.set(key, reportId, 'NX');
    if (set === 'OK') return reportId;
    return (await this.redis.get(key)) ?? reportId;
  }

  async putReport(reportId: string, emailId: string, report: Report): Promise<void> {
    const score = Date.parse(report.publishedAt);
    await this.redis
      .multi()
      .set(`${this.p}:report:${reportId}`, JSON.stringify({ emailId, report }))
      .zadd(`${this.p}:reports`, Number.isNaN(score) ? Date.now() : score, reportId)
      .exec();
  }

  /** Whether a report is stored (without reading it back). */
  async hasReport(reportId: string): Promise<boolean> {
    return (await this.redis.exists(`${this.p}:report:${reportId}`)) === 1;
  }

  async getReport(reportId: string): Promise<{ emailId: string; report: Report } | null> {
    return this.getJson(`${this.p}:report:${reportId}`);
  }

  /** Report ids, newest first. */
  async listReports(limit = 100, offset = 0): Promise<string[]> {
    return this.redis.zrevrange(`${this.p}:reports`, offset, offset + limit - 1);
  }

  async putSummary(record: SummaryRecord): Promise<void> {
    await this.redis.set(`${this.p}:summary:${record.reportId}`, JSON.stringify(record));
  }

  async getSummary(reportId: string): Promise<SummaryRecord | null> {
    return this.getJson(`${this.p}:summary:${reportId}`);
  }

  async putPost(record: PostRecord): Promise<void> {
    await this.redis.set(`${this.p}:post:${record.reportId}:${record.target}`, JSON.stringify(record));
  }

  async getPost(reportId: string, target: string): Promise<PostRecord | null> {
    return this.getJson(`${this.p}:post:${reportId}:${target}`);
  }

  /**
   * The targets among `targets` with no post record of the report: one round trip of EXISTS, no
   * record read (every publish asks this of the other boards).
   */
  async targetsWithoutPost(reportId: string, targets: readonly string[]): Promise<string[]> {
    if (targets.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const target of targets) pipeline.exists(`${this.p}:post:${reportId}:${target}`);
    const replies = (await pipeline.exec()) ?? [];
    return targets.filter((_, i) => {
      const [err, count] = replies[i] ?? [null, 0];
      if (err !== null) throw err;
      return count !== 1;
    });
  }

  async setStage(reportId: string, stage: StageName, status: StageStatus): Promise<void> {
    await this.redis.hset(`${this.p}:stages:${reportId}`, stage, JSON.stringify(status));
  }

  async getStages(reportId: string): Promise<Partial<Record<StageName, StageStatus>>> {
    const raw = await this.redis.hgetall(`${this.p}:stages:${reportId}`);
    const out: Partial<Record<StageName, StageStatus>> = {};
    for (const [k, v] of Object.entries(raw)) out[k as StageName] = JSON.parse(v) as StageStatus;
    return out;
  }

  /** Keep an email that could not be parsed, with why (idempotent per email). */
  async reject(rejection: Rejection): Promise<void> {
    await this.redis.hset(`${this.p}:rejected`, rejection.emailId, JSON.stringify(rejection));
  }

  async listRejections(): Promise<Rejection[]> {
    const all = await this.redis.hvals(`${this.p}:rejected`);
    return all.map((v) => JSON.parse(v) as Rejection).sort((a, b) => b.at.localeCompare(a.at));
  }

  /**
   * Take a short lock (SET NX PX) so one piece of work runs once at a time across processes; returns
   * a release function, or null when someone else holds it. The expiry frees it if we crash.
   */
  async lock(name: string, ttlMs: number): Promise<(() => Promise<void>) | null> {
    const key = `${this.p}:lock:${name}`;
    const token = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    if ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return null;
    return async () => {
      // Delete only our own lock: after an expiry it may be someone else's.
      await this.redis.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        1,
        key,
        token,
      );
    };
  }

  /** Tokens used in a month ("2025-03"), for the LLM budget. */
  async tokensUsed(month: string): Promise<number> {
    return Number((await this.redis.get(`${this.p}:tokens:${month}`)) ?? 0);
  }

  async addTokens(month: string, tokens: number): Promise<void> {
    await this.redis.incrby(`${this.p}:tokens:${month}`, Math.max(0, Math.round(tokens)));
  }

  private async getJson<T>(key: string): Promise<T | null> {
    const raw = await this.redis.get(key);
    return raw === null ? null : (JSON.parse(raw) as T);
  }
}

import type { Redis } from 'ioredis';

/** A report an admin stopped before it reached the board or the subscribers. */
export interface ReportHold {
  readonly reportId: string;
  /** Who held it (the admin's name, `cli`, …). */
  readonly by: string;
  /** Why, in the admin's words (may be empty). */
  readonly reason: string;
  readonly at: string;
}

/**
 * Reports held by an admin (`isw-ko hold`, the admin report page): while a report is held its
 * summarize and publish jobs do nothing but record that they were held, and its digests leave it
 * out. Work already running finishes; a hold stops what has not started. Releasing (see
 * `releaseReport` in src/admin/operations.ts) takes the report up where it stopped.
 *
 * One Redis hash (`<prefix>:data:holds`, report id → JSON), so a worker's check is one HGET.
 */
export class Holds {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${prefix}:data:holds`;
  }

  /** Hold a report. Returns false (and keeps the first hold) when it was already held. */
  async hold(reportId: string, by: string, reason: string): Promise<boolean> {
    const hold: ReportHold = { reportId, by, reason: reason.trim(), at: new Date().toISOString() };
    return (await this.redis.hsetnx(this.key, reportId, JSON.stringify(hold))) === 1;
  }

  /** Lift a report's hold; the hold it had, or null when it was not held. */
  async release(reportId: string): Promise<ReportHold | null> {
    const [[, before] = [], [, removed] = []] =
      (await this.redis.multi().hget(this.key, reportId).hdel(this.key, reportId).exec()) ?? [];
    return removed === 1 && typeof before === 'string' ? (JSON.parse(before) as ReportHold) : null;
  }

  async get(reportId: string): Promise<ReportHold | null> {
    const raw = await this.redis.hget(this.key, reportId);
    return raw === null ? null : (JSON.parse(raw) as ReportHold);
  }

  async isHeld(reportId: string): Promise<boolean> {
    return (await this.redis.hexists(this.key, reportId)) === 1;
  }

  /** Every held report, most recently held first. */
  async list(): Promise<ReportHold[]> {
    const all = await this.redis.hvals(this.key);
    return all.map((v) => JSON.parse(v) as ReportHold).sort((a, b) => b.at.localeCompare(a.at));
  }
}

// Subscriber store on a real redis-server: add/update/remove, status transitions, web re-subscription keeping an opt-out until confirmed, CSV import report (added/updated/rejected+why), export round trip, bounce counting, paging.
import { Redis } from 'ioredis';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { subscriberIdOf } from '../../src/notify/address.js';
import { nextStatus, SubscriberStore } from '../../src/notify/subscribers.js';
import { isAppError } from '../../src/shared/app-error.js';
import { testClock } from '../support/notify-fixtures.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

let server: TestRedis;
let redis: Redis;
let store: SubscriberStore;
const clock = testClock(Date.parse('2025-03-01T00:00:00Z'));

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  await redis.quit();
  await server.close();
});
beforeEach(() => {
  store = new SubscriberStore(redis, freshPrefix('subs'), clock);
});

async function codeOf(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
}

async function all(): Promise<string[]> {
  const out: string[] = [];
  for await (const s of store.iterate()) out.push(`${s.address}:${s.status}:${s.mode}`);
  return out;
}

describe('status transitions (pure table)', () => {
  it('refuses to re-add an opted-out person without force, and old confirm links after unsubscribing', () => {
    expect(nextStatus(null, 'admin-add')).toEqual({ ok: true, status: 'active' });
    expect(nextStatus('unsubscribed', 'admin-add').ok).toBe(false);
    expect(nextStatus('bounced', 'admin-add').ok).toBe(false);
    expect(nextStatus('bounced', 'admin-add-force')).toEqual({ ok: true, status: 'active' });
    // The form alone never lifts an opt-out: the request waits beside it for the emailed link.
    expect(nextStatus('unsubscribed', 'web-subscribe')).toEqual({ ok: true, status: 'unsubscribed' });
    expect(nextStatus('bounced', 'web-subscribe')).toEqual({ ok: true, status: 'bounced' });
    expect(nextStatus(null, 'web-subscribe')).toEqual({ ok: true, status: 'pending' });
    expect(nextStatus('active', 'web-subscribe')).toEqual({ ok: true, status: 'active' });
    expect(nextStatus('unsubscribed', 'confirm').ok).toBe(false);
    expect(nextStatus('pending', 'confirm')).toEqual({ ok: true, status: 'active' });
    expect(nextStatus('active', 'bounce-limit')).toEqual({ ok: true, status: 'bounced' });
    expect(nextStatus('unsubscribed', 'bounce-limit')).toEqual({ ok: true, status: 'unsubscribed' });
  });
});

describe('SubscriberStore', () => {
  it('adds, updates and reports unchanged; one record per address whatever its case', async () => {
    const a = await store.add({
      address: 'Reader@Example.ORG',
      name: '김독자',
      mode: 'daily',
      source: 'cli',
    });
    expect(a.outcome).toBe('added');
    expect(a.subscriber).toMatchObject({
      address: 'Reader@example.org',
      name: '김독자',
      mode: 'daily',
      status: 'active',
    });
    expect(a.subscriber.id).toBe(subscriberIdOf('reader@example.org'));
    expect(a.subscriber.confirmedAt).not.toBeNull();
    expect(
      (await store.add({ address: 'reader@example.org', name: '김독자', mode: 'daily', source: 'cli' }))
        .outcome,
    ).toBe('unchanged');
    const u = await store.add({ address: 'READER@example.org', mode: 'immediate', source: 'cli' });
    expect(u.outcome).toBe('updated');
    expect(u.subscriber).toMatchObject({ mode: 'immediate', name: '김독자' });
    expect(await store.counts()).toEqual({ total: 1, activeImmediate: 1, activeDaily: 0 });
    expect(await codeOf(store.add({ address: 'not an address', source: 'cli' }))).toBe('INVALID_ADDRESS');
  });

  it('keeps an unsubscribe: re-adding needs force; the active index follows the status', async () => {
    const { subscriber } = await store.add({ address: 'a@example.org', mode: 'daily', source: 'cli' });
    expect((await store.pageActive('daily', null, 10)).ids).toEqual([subscriber.id]);
    expect((await store.unsubscribe(subscriber.id, 'web')).changed).toBe(true);
    expect((await store.unsubscribe(subscriber.id, 'web')).changed).toBe(false);
    expect((await store.pageActive('daily', null, 10)).ids).toEqual([]);
    expect(await codeOf(store.add({ address: 'a@example.org', source: 'cli' }))).toBe('SUBSCRIBER_OPTED_OUT');
    const forced = await store.add({ address: 'a@example.org', source: 'cli', force: true });
    expect(forced.subscriber.status).toBe('active');
    expect((await store.pageActive('daily', null, 10)).ids).toEqual([subscriber.id]);
  });

  it('runs the web double opt-in: pending until confirmed; an old confirm link cannot undo an unsubscribe', async () => {
    const r = await store.requestSubscription({ address: 'web@example.org', name: null, mode: 'immediate' });
    expect(r.needsConfirmation).toBe(true);
    expect(r.subscriber.status).toBe('pending');
    expect((await store.pageActive('immediate', null, 10)).ids).toEqual([]);
    const confirmed = await store.confirm(r.subscriber.id, clock());
    expect(confirmed.status).toBe('active');
    expect((await store.confirm(r.subscriber.id, clock())).status).toBe('active');
    expect(
      (await store.requestSubscription({ address: 'web@example.org', mode: 'daily' })).needsConfirmation,
    ).toBe(false);
    const linkSentAt = clock();
    clock.advance(60_000);
    await store.unsubscribe(r.subscriber.id, 'web');
    expect(await codeOf(store.confirm(r.subscriber.id, linkSentAt))).toBe('TOKEN_INVALID');
    // Subscribing again on the web is allowed (and needs a new confirmation).
    expect(
      (await store.requestSubscription({ address: 'web@example.org', mode: 'daily' })).needsConfirmation,
    ).toBe(true);
  });

  it('keeps an opt-out when anyone asks on the web form, until the emailed link is clicked', async () => {
    const { subscriber: alice } = await store.add({
      address: 'alice@example.org',
      name: 'Alice',
      mode: 'immediate',
      source: 'cli',
    });
    const oldLinkAt = clock();
    clock.advance(60_000);
    await store.unsubscribe(alice.id, 'web');
    const unsubscribedAt = (await store.get(alice.id))?.unsubscribedAt;
    clock.advance(60_000);
    // Anyone can type her address into the public form (no name given).
    const r = await store.requestSubscription({ address: 'alice@example.org', name: null, mode: 'daily' });
    expect(r.needsConfirmation).toBe(true);
    expect(r.subscriber).toMatchObject({
      status: 'unsubscribed',
      name: 'Alice',
      mode: 'immediate',
      unsubscribedAt,
      resubscribe: { mode: 'daily', name: null },
    });
    expect((await store.pageActive('daily', null, 10)).ids).toEqual([]);
    // Nothing but her click lifts the opt-out: not an import, not `add`, not an old link.
    const report = await store.importCsv(Buffer.from('email,name\r\nalice@example.org,\r\n'));
    expect(report).toMatchObject({ added: 0, updated: 0, unchanged: 0 });
    expect(report.rejected).toEqual([
      {
        line: 2,
        address: 'alice@example.org',
        reason: expect.stringContaining('opted out: unsubscribed') as string,
      },
    ]);
    expect(await codeOf(store.add({ address: 'alice@example.org', source: 'cli' }))).toBe(
      'SUBSCRIBER_OPTED_OUT',
    );
    expect(await codeOf(store.confirm(alice.id, oldLinkAt))).toBe('TOKEN_INVALID');
    expect((await store.get(alice.id))?.status).toBe('unsubscribed');
    // The link mailed for the request: active, with the mode asked for and her name kept.
    const confirmed = await store.confirm(alice.id, clock());
    expect(confirmed).toMatchObject({ status: 'active', mode: 'daily', name: 'Alice', resubscribe: null });
    expect((await store.pageActive('daily', null, 10)).ids).toEqual([alice.id]);
  });

  it('lets an unsubscribe withdraw a pending re-subscription request, and a bounced address ask again', async () => {
    const { subscriber: bob } = await store.add({ address: 'bob@example.org', mode: 'daily', source: 'cli' });
    await store.unsubscribe(bob.id, 'web');
    clock.advance(60_000);
    await store.requestSubscription({ address: 'bob@example.org', name: '밥', mode: 'immediate' });
    const linkAt = clock();
    clock.advance(60_000);
    const withdrawn = await store.unsubscribe(bob.id, 'mail');
    expect(withdrawn.changed).toBe(true);
    expect(withdrawn.subscriber.resubscribe).toBeNull();
    expect(await codeOf(store.confirm(bob.id, linkAt))).toBe('TOKEN_INVALID');
    expect((await store.unsubscribe(bob.id, 'mail')).changed).toBe(false);

    const { subscriber: gone } = await store.add({ address: 'gone2@example.org', source: 'cli' });
    await store.recordBounce(gone.id, '550 5.1.1 User unknown', 1);
    clock.advance(60_000);
    const r = await store.requestSubscription({ address: 'gone2@example.org', mode: 'immediate' });
    expect(r).toMatchObject({ needsConfirmation: true, subscriber: { status: 'bounced' } });
    expect(await codeOf(store.add({ address: 'gone2@example.org', source: 'cli' }))).toBe(
      'SUBSCRIBER_OPTED_OUT',
    );
    expect(await store.confirm(gone.id, clock())).toMatchObject({ status: 'active', bounceCount: 0 });
  });

  it('still treats a record that older versions turned from unsubscribed into pending as opted out', async () => {
    const id = subscriberIdOf('legacy@example.org');
    await redis.hset(store.keys.subscriber(id), {
      id,
      address: 'legacy@example.org',
      mode: 'daily',
      status: 'pending',
      source: 'web',
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-02-01T00:00:00.000Z',
      unsubscribedAt: '2025-01-15T00:00:00.000Z',
    });
    await redis.zadd(store.keys.allSubscribers, 1, id);
    expect(await codeOf(store.add({ address: 'legacy@example.org', source: 'cli' }))).toBe(
      'SUBSCRIBER_OPTED_OUT',
    );
    const report = await store.importCsv(Buffer.from('legacy@example.org\n'));
    expect(report.rejected).toHaveLength(1);
    expect((await store.get(id))?.status).toBe('pending');
  });

  it('counts bounces in a row, marks the subscriber bounced at the limit, and keeps the reason', async () => {
    const { subscriber } = await store.add({ address: 'gone@example.org', mode: 'immediate', source: 'cli' });
    expect(await store.recordBounce(subscriber.id, '550 5.1.1 User unknown', 3)).toEqual({
      count: 1,
      status: 'active',
    });
    expect(await store.recordBounce(subscriber.id, '550 5.1.1 User unknown', 3)).toEqual({
      count: 2,
      status: 'active',
    });
    expect(await store.recordBounce(subscriber.id, '550 5.1.1 No such mailbox', 3)).toEqual({
      count: 3,
      status: 'bounced',
    });
    const s = await store.get(subscriber.id);
    expect(s).toMatchObject({
      status: 'bounced',
      bounceCount: 3,
      lastBounceReason: '550 5.1.1 No such mailbox',
    });
    expect(s?.bouncedAt).not.toBeNull();
    expect((await store.pageActive('immediate', null, 10)).ids).toEqual([]);
    // A bounce of someone removed meanwhile does not re-create them.
    await store.purge(subscriber.id);
    expect(await store.recordBounce(subscriber.id, 'x', 3)).toEqual({ count: 0, status: null });
    expect(await store.get(subscriber.id)).toBeNull();
  });

  it('imports a CSV and reports added, updated, unchanged and each rejected row with why', async () => {
    await store.add({ address: 'existing@example.org', name: '기존', mode: 'daily', source: 'cli' });
    await store.add({ address: 'same@example.org', name: '같음', mode: 'daily', source: 'cli' });
    const { subscriber: left } = await store.add({
      address: 'left@example.org',
      mode: 'daily',
      source: 'cli',
    });
    await store.unsubscribe(left.id, 'web');
    const csv = [
      'email,이름,mode',
      'new1@example.org,홍길동,daily',
      '"new2@example.org","Kim, Minjun",immediate',
      'existing@example.org,기존,immediate',
      'same@example.org,같음,daily',
      'not-an-address,x,daily',
      'NEW1@example.org,dup,daily',
      'left@example.org,,daily',
      'bad@example.org,,weekly',
      'new3@example.org,,즉시',
      '',
    ].join('\r\n');
    const report = await store.importCsv(Buffer.from(`\uFEFF${csv}`), { defaultMode: 'daily' });
    expect(report).toMatchObject({ encoding: 'utf-8', rows: 9, added: 3, updated: 1, unchanged: 1 });
    expect(report.rejected).toEqual([
      {
        line: 6,
        address: 'not-an-address',
        reason: 'invalid address: needs exactly one @ with text on both sides',
      },
      { line: 7, address: 'NEW1@example.org', reason: 'duplicate of line 2' },
      {
        line: 8,
        address: 'left@example.org',
        reason: expect.stringContaining('opted out: unsubscribed') as string,
      },
      { line: 9, address: 'bad@example.org', reason: 'unknown mode "weekly" (immediate or daily)' },
    ]);
    expect((await store.getByAddress('new2@example.org'))?.name).toBe('Kim, Minjun');
    expect((await store.getByAddress('new3@example.org'))?.mode).toBe('immediate');
    expect((await store.getByAddress('existing@example.org'))?.mode).toBe('immediate');
    expect((await store.getByAddress('left@example.org'))?.status).toBe('unsubscribed');
    // A dry run reports the same and writes nothing.
    const fresh = new SubscriberStore(redis, freshPrefix('dry'), clock);
    const dry = await fresh.importCsv(Buffer.from(csv), { dryRun: true });
    expect(dry.added).toBe(6);
    expect((await fresh.counts()).total).toBe(0);
  });

  it('reads a CP949 file from Korean Excel and a file without a header row', async () => {
    const report = await store.importCsv(iconv.encode('주소,이름\r\ncp@example.org,김철수\r\n', 'cp949'));
    expect(report).toMatchObject({ encoding: 'cp949', added: 1, rejected: [] });
    expect((await store.getByAddress('cp@example.org'))?.name).toBe('김철수');
    const bare = await store.importCsv(Buffer.from('plain@example.org,이영희,immediate\n'));
    expect(bare).toMatchObject({ added: 1, rejected: [] });
    expect(await codeOf(store.importCsv(Buffer.from('foo,bar\n1,2\n')))).toBe('CSV_INVALID');
  });

  it('exports CSV that imports back elsewhere with the same statuses (unsubscribes kept)', async () => {
    await store.add({ address: 'one@example.org', name: '=SUM(A1)', mode: 'daily', source: 'cli' });
    const { subscriber } = await store.add({
      address: 'two@example.org',
      name: '둘, "따옴표"',
      mode: 'immediate',
      source: 'cli',
    });
    await store.unsubscribe(subscriber.id, 'web');
    let csv = '';
    for await (const chunk of store.exportCsv()) csv += chunk;
    expect(csv.split('\r\n')[0]).toBe(
      'address,name,mode,status,created_at,confirmed_at,unsubscribed_at,bounced_at,bounce_count,last_bounce_reason',
    );
    // A name that a spreadsheet would run as a formula is defused.
    expect(csv).toContain("'=SUM(A1)");
    const other = new SubscriberStore(redis, freshPrefix('copy'), clock);
    const report = await other.importCsv(Buffer.from(csv));
    expect(report).toMatchObject({ added: 2, rejected: [] });
    const before = await all();
    store = other;
    expect(await all()).toEqual(before);
    expect((await other.getByAddress('one@example.org'))?.name).toBe('=SUM(A1)');
  });

  it('pages active subscribers by id, resumable after any id', async () => {
    for (let i = 0; i < 25; i += 1)
      await store.add({ address: `p${i}@example.org`, mode: 'daily', source: 'cli' });
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await store.pageActive('daily', after, 10);
      seen.push(...page.ids);
      expect(page.coveredUntil).toHaveLength(page.ids.length);
      if (page.next === null) break;
      after = page.next;
    }
    expect(seen).toHaveLength(25);
    expect([...seen].sort()).toEqual(seen);
    const resumed = await store.pageActive('daily', seen[9] ?? null, 100);
    expect(resumed.ids).toEqual(seen.slice(10));
    await store.advanceCoveredUntil([{ id: seen[0] ?? '', until: 1000 }]);
    await store.advanceCoveredUntil([{ id: seen[0] ?? '', until: 500 }]);
    expect((await store.get(seen[0] ?? ''))?.dailyCoveredUntil).toBe(1000);
  });
});

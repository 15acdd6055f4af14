// Public HTTP routes: subscribe with double opt-in (confirmation mail over real SMTP; Korean-only errors; an honest throttle page), re-subscribing after an unsubscribe, confirm, unsubscribe by link and by RFC 8058 one-click POST, forged/tampered tokens rejected.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { subscriberIdOf } from '../../src/notify/address.js';
import { buildPublicServer } from '../../src/notify/http.js';
import { createLinks } from '../../src/notify/links.js';
import { createSmtpMailer, type Mailer } from '../../src/notify/mailer.js';
import { NotifyStore } from '../../src/notify/notify-store.js';
import { SubscriberStore } from '../../src/notify/subscribers.js';
import { loadNotifyTemplates } from '../../src/notify/templates.js';
import { signToken } from '../../src/notify/tokens.js';
import { quietLogger, TEST_SECRET, testClock, testSettings } from '../support/notify-fixtures.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';

let redisServer: TestRedis;
let redis: Redis;
let smtp: TestSmtpServer;
let mailer: Mailer;
let app: FastifyInstance;
let subscribers: SubscriberStore;
const clock = testClock(Date.parse('2025-03-03T00:00:00Z'));
const settings = testSettings();
const links = createLinks({
  baseUrl: settings.publicBaseUrl,
  secret: TEST_SECRET,
  mailto: settings.unsubscribeMailto,
});
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = new Redis(redisServer.url);
  smtp = await startTestSmtpServer();
  mailer = createSmtpMailer({ url: smtp.url, poolSize: 1 });
});
afterAll(async () => {
  await mailer.close();
  await smtp.close();
  await redis.quit();
  await redisServer.close();
});
afterEach(async () => {
  await app.close();
});
beforeEach(async () => {
  const prefix = freshPrefix('http');
  subscribers = new SubscriberStore(redis, prefix, clock);
  smtp.clearRules();
  app = await buildPublicServer({
    subscribers,
    notifyStore: new NotifyStore(redis, prefix),
    mailer,
    templates: await loadNotifyTemplates(),
    links,
    tokenSecret: TEST_SECRET,
    from: settings.from,
    logger: quietLogger(),
    clock,
  });
});

/** The confirm link of the last confirmation mail sent to `address`. */
async function confirmLinkFor(address: string): Promise<string> {
  const mail = [...smtp.messages].reverse().find((m) => m.to.includes(address));
  if (mail === undefined) throw new Error(`no mail to ${address}`);
  const parsed = await simpleParser(mail.raw);
  const link = /https:\/\/isw-ko\.example\/confirm\?token=[A-Za-z0-9._-]+/.exec(parsed.text ?? '')?.[0];
  if (link === undefined) throw new Error('no confirm link in the text part');
  expect(parsed.html).toContain(`href="${link}"`);
  return link;
}

const pathOf = (url: string): string => url.replace('https://isw-ko.example', '');
const mailsTo = (address: string): number => smtp.messages.filter((m) => m.to.includes(address)).length;

describe('subscribe (double opt-in)', () => {
  it('serves the form with headers that keep tokens private', async () => {
    const res = await app.inject({ method: 'GET', url: '/subscribe' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toContain('name="address"');
    expect(res.body).toContain('action="/subscribe"');
  });

  it('mails a confirmation link; the subscriber is pending until the POST from the confirm page', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/subscribe',
      headers: FORM,
      payload: 'address=New%40Example.org&name=%EA%B9%80%EB%8F%85%EC%9E%90&mode=immediate',
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('N***@example.org');
    const id = subscriberIdOf('new@example.org');
    expect((await subscribers.get(id))?.status).toBe('pending');
    const mail = await simpleParser(smtp.messages.at(-1)?.raw ?? Buffer.alloc(0));
    expect(mail.subject).toBe('[ISW 브리핑] 구독 확인을 부탁드립니다');
    expect(mail.text).toContain('보고서별 즉시 알림');
    const link = await confirmLinkFor('new@example.org');

    const page = await app.inject({ method: 'GET', url: pathOf(link) });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('구독 확인');
    expect(page.body).toContain('method="post"');
    // Fetching the link (as a mail scanner would) confirms nothing.
    expect((await subscribers.get(id))?.status).toBe('pending');

    const done = await app.inject({ method: 'POST', url: pathOf(link), headers: FORM, payload: '' });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('구독이 시작되었습니다');
    expect(await subscribers.get(id)).toMatchObject({ status: 'active', mode: 'immediate', name: '김독자' });
  });

  it('sends nothing to an active subscriber or a bot, throttles repeats, and rejects bad addresses', async () => {
    await subscribers.add({ address: 'active@example.org', source: 'cli' });
    const before = smtp.accepted;
    const again = await app.inject({
      method: 'POST',
      url: '/subscribe',
      headers: FORM,
      payload: 'address=active%40example.org&mode=daily',
    });
    expect(again.statusCode).toBe(200);
    const bot = await app.inject({
      method: 'POST',
      url: '/subscribe',
      headers: FORM,
      payload: 'address=victim%40example.org&website=http%3A%2F%2Fspam',
    });
    expect(bot.statusCode).toBe(200);
    expect(await subscribers.getByAddress('victim@example.org')).toBeNull();
    for (let i = 0; i < 3; i += 1) {
      await app.inject({
        method: 'POST',
        url: '/subscribe',
        headers: FORM,
        payload: 'address=twice%40example.org',
      });
    }
    expect(smtp.accepted - before).toBe(1);
    expect(mailsTo('twice@example.org')).toBe(1);
    const bad = await app.inject({
      method: 'POST',
      url: '/subscribe',
      headers: FORM,
      payload: 'address=nope&name=x',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('이메일 주소를 확인해 주세요');
    expect(bad.body).toContain('value="nope"');
  });

  it('explains a refused address in Korean only', async () => {
    const inputs = [
      'nope',
      'a@@example.org',
      'x@localhost',
      '김@example.org',
      'a b@example.org',
      `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(10)}.org`,
      '',
    ];
    for (const address of inputs) {
      const res = await app.inject({
        method: 'POST',
        url: '/subscribe',
        headers: FORM,
        payload: new URLSearchParams({ address }).toString(),
      });
      expect(res.statusCode, address).toBe(400);
      const error = /<p class="error" role="alert">([^<]*)<\/p>/.exec(res.body)?.[1] ?? '';
      expect(error, address).toContain('이메일 주소를 확인해 주세요.');
      // No English words (checkAddress's reasons are for the CLI and logs); HTML entities aside.
      expect(error.replace(/&#?\w+;/g, ''), address).not.toMatch(/[A-Za-z]{3,}/);
    }
  });

  it('says honestly that a repeat within the throttle period sent nothing, alike for every address', async () => {
    await subscribers.add({ address: 'member@example.org', source: 'cli' });
    const post = (address: string): Promise<LightMyRequestResponse> =>
      app.inject({
        method: 'POST',
        url: '/subscribe',
        headers: FORM,
        payload: new URLSearchParams({ address, mode: 'daily' }).toString(),
      });
    expect((await post('member@example.org')).statusCode).toBe(200);
    const first = await post('fresh@example.org');
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('확인 메일을 보냈습니다');
    expect(mailsTo('fresh@example.org')).toBe(1);

    const again = await post('fresh@example.org');
    expect(again.statusCode).toBe(429);
    expect(again.body).not.toContain('확인 메일을 보냈습니다');
    expect(again.body).toContain('확인 메일을 다시 보내지 않았습니다');
    expect(again.body).toContain('10분 뒤에 다시 신청할 수 있습니다');
    expect(Number(again.headers['retry-after'])).toBeGreaterThan(590);
    expect(mailsTo('fresh@example.org')).toBe(1);
    // An active subscriber's repeat gets the very same answer: the page does not tell who subscribes.
    const member = await post('member@example.org');
    expect(member.statusCode).toBe(429);
    expect(member.body.replace('m***@', 'f***@')).toBe(again.body);
  });

  it('answers 503 when the confirmation cannot be sent, and lets the person retry at once', async () => {
    smtp.respond({
      stage: 'rcpt',
      address: 'later@example.org',
      code: 451,
      message: 'Try again later',
      times: 1,
    });
    const res = await app.inject({
      method: 'POST',
      url: '/subscribe',
      headers: FORM,
      payload: 'address=later%40example.org',
    });
    expect(res.statusCode).toBe(503);
    const retry = await app.inject({
      method: 'POST',
      url: '/subscribe',
      headers: FORM,
      payload: 'address=later%40example.org',
    });
    expect(retry.statusCode).toBe(200);
    expect(mailsTo('later@example.org')).toBe(1);
  });
});

describe('unsubscribe', () => {
  async function active(address: string): Promise<{ id: string; address: string }> {
    const { subscriber } = await subscribers.add({ address, mode: 'daily', source: 'cli' });
    return subscriber;
  }

  it('shows a page with a button on GET (changes nothing), unsubscribes on the button’s POST', async () => {
    const s = await active('link@example.org');
    const url = pathOf(links.unsubscribeUrl(s, clock()));
    const page = await app.inject({ method: 'GET', url });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('l***@example.org');
    expect(page.body).toContain('name="List-Unsubscribe" value="One-Click"');
    expect((await subscribers.get(s.id))?.status).toBe('active');
    const action = /action="([^"]+)"/.exec(page.body)?.[1]?.replace(/&amp;/g, '&') ?? '';
    const res = await app.inject({
      method: 'POST',
      url: action,
      headers: FORM,
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('수신 거부되었습니다');
    expect((await subscribers.get(s.id))?.status).toBe('unsubscribed');
    // Again: still fine, still unsubscribed.
    expect(
      (
        await app.inject({
          method: 'POST',
          url: action,
          headers: FORM,
          payload: 'List-Unsubscribe=One-Click',
        })
      ).statusCode,
    ).toBe(200);
    expect((await app.inject({ method: 'GET', url })).body).toContain('이미 수신 거부되었습니다');
  });

  it('accepts the RFC 8058 one-click POST as urlencoded and as multipart/form-data, with no cookie or login', async () => {
    const a = await active('oneclick-a@example.org');
    const b = await active('oneclick-b@example.org');
    const resA = await app.inject({
      method: 'POST',
      url: pathOf(links.unsubscribeUrl(a, clock())),
      headers: FORM,
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(resA.statusCode).toBe(200);
    const boundary = '----isw-ko-test';
    const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`;
    const resB = await app.inject({
      method: 'POST',
      url: pathOf(links.unsubscribeUrl(b, clock())),
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: multipart,
    });
    expect(resB.statusCode).toBe(200);
    expect((await subscribers.get(a.id))?.status).toBe('unsubscribed');
    expect((await subscribers.get(b.id))?.status).toBe('unsubscribed');
  });

  it('rejects forged and tampered tokens and tokens for another purpose or address, changing nothing', async () => {
    const victim = await active('victim@example.org');
    const other = await active('other@example.org');
    const now = Math.floor(clock() / 1000);
    const good = links.unsubscribeUrl(victim, clock()).split('token=')[1] ?? '';
    const parts = good.split('.');
    const attempts = [
      // Signed with a guessed secret.
      signToken(
        { purpose: 'unsubscribe', subscriberId: victim.id, issuedAt: now },
        victim.address,
        'a-guessed-secret-a-guessed-secret-00',
      ),
      // The other subscriber's token with the victim's id swapped in.
      (() => {
        const o = (links.unsubscribeUrl(other, clock()).split('token=')[1] ?? '').split('.');
        return [o[0], o[1], victim.id, o[3], o[4]].join('.');
      })(),
      // The victim's token with one MAC character changed.
      [
        ...parts.slice(0, 4),
        `${parts[4]?.startsWith('A') === true ? 'B' : 'A'}${parts[4]?.slice(1) ?? ''}`,
      ].join('.'),
      // A confirm token of the victim (right address, wrong purpose).
      links.confirmUrl(victim, clock()).split('token=')[1] ?? '',
      'garbage',
    ];
    for (const token of attempts) {
      const get = await app.inject({ method: 'GET', url: `/unsubscribe?token=${encodeURIComponent(token)}` });
      expect(get.statusCode, token).toBe(400);
      const post = await app.inject({
        method: 'POST',
        url: `/unsubscribe?token=${encodeURIComponent(token)}`,
        headers: FORM,
        payload: 'List-Unsubscribe=One-Click',
      });
      expect(post.statusCode, token).toBe(400);
      expect(post.body).toContain('링크가 올바르지 않습니다');
    }
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/unsubscribe',
          headers: FORM,
          payload: 'List-Unsubscribe=One-Click',
        })
      ).statusCode,
    ).toBe(400);
    expect((await subscribers.get(victim.id))?.status).toBe('active');
    expect((await subscribers.get(other.id))?.status).toBe('active');
  });

  it('does not let an old confirm link re-subscribe someone who unsubscribed', async () => {
    await app.inject({
      method: 'POST',
      url: '/subscribe',
      headers: FORM,
      payload: 'address=flip%40example.org',
    });
    const link = await confirmLinkFor('flip@example.org');
    await app.inject({ method: 'POST', url: pathOf(link), headers: FORM, payload: '' });
    const s = await subscribers.getByAddress('flip@example.org');
    if (s === null) throw new Error('missing');
    await subscribers.unsubscribe(s.id, 'web');
    const res = await app.inject({ method: 'POST', url: pathOf(link), headers: FORM, payload: '' });
    expect(res.statusCode).toBe(400);
    expect((await subscribers.get(s.id))?.status).toBe('unsubscribed');
  });

  it('keeps an unsubscribe when anyone submits the address on the form, until the emailed link is clicked', async () => {
    const { subscriber: alice } = await subscribers.add({
      address: 'alice@example.org',
      name: 'Alice',
      mode: 'immediate',
      source: 'cli',
    });
    const oldConfirm = pathOf(links.confirmUrl(alice, clock()));
    clock.advance(60_000);
    await app.inject({
      method: 'POST',
      url: pathOf(links.unsubscribeUrl(alice, clock())),
      headers: FORM,
      payload: 'List-Unsubscribe=One-Click',
    });
    clock.advance(60_000);
    const res = await app.inject({
      method: 'POST',
      url: '/subscribe',
      headers: FORM,
      payload: 'address=alice%40example.org&mode=daily&website=',
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('a***@example.org 주소로 확인 메일을 보냈습니다');
    expect(await subscribers.get(alice.id)).toMatchObject({
      status: 'unsubscribed',
      name: 'Alice',
      resubscribe: { mode: 'daily' },
    });
    // Her old confirmation link says at once that it cannot be used, and the POST agrees.
    const oldPage = await app.inject({ method: 'GET', url: oldConfirm });
    expect(oldPage.body).not.toContain('method="post"');
    expect(
      (await app.inject({ method: 'POST', url: oldConfirm, headers: FORM, payload: '' })).statusCode,
    ).toBe(400);
    expect((await subscribers.get(alice.id))?.status).toBe('unsubscribed');

    const link = await confirmLinkFor('alice@example.org');
    const page = await app.inject({ method: 'GET', url: pathOf(link) });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('method="post"');
    const done = await app.inject({ method: 'POST', url: pathOf(link), headers: FORM, payload: '' });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('구독이 시작되었습니다');
    expect(await subscribers.get(alice.id)).toMatchObject({
      status: 'active',
      mode: 'daily',
      name: 'Alice',
      resubscribe: null,
    });
  });

  it('tells on the confirm page, before any button, that an old link of someone who unsubscribed cannot be used', async () => {
    const { subscriber } = await subscribers.add({ address: 'gone@example.org', source: 'cli' });
    const url = pathOf(links.confirmUrl(subscriber, clock()));
    clock.advance(60_000);
    await subscribers.unsubscribe(subscriber.id, 'web');
    const get = await app.inject({ method: 'GET', url });
    const post = await app.inject({ method: 'POST', url, headers: FORM, payload: '' });
    expect(get.statusCode).toBe(post.statusCode);
    for (const res of [get, post]) {
      expect(res.body).not.toContain('method="post"');
      expect(res.body).not.toContain('아래 버튼을 눌러 주세요');
      expect(res.body).toContain('이 링크로는 구독할 수 없습니다');
      expect(res.body).toContain('수신 거부되었고');
      expect(res.body).toContain('구독을 새로 신청해 주세요');
      expect(res.body).toContain('href="https://isw-ko.example/subscribe"');
    }
  });

  it('rejects an expired confirm link', async () => {
    await app.inject({
      method: 'POST',
      url: '/subscribe',
      headers: FORM,
      payload: 'address=slow%40example.org',
    });
    const link = await confirmLinkFor('slow@example.org');
    clock.advance(8 * 24 * 3600 * 1000);
    try {
      const res = await app.inject({ method: 'GET', url: pathOf(link) });
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain('링크가 만료되었습니다');
    } finally {
      clock.advance(-8 * 24 * 3600 * 1000);
    }
  });
});

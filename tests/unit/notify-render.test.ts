// Digest rendering: golden digests (HTML inlined by juice + text), structure, Korean text, size budget, board links (http(s) only), and the built MIME message.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'cheerio';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { beforeAll, describe, expect, it } from 'vitest';
import { subscriberIdOf } from '../../src/notify/address.js';
import { composeDigestMail } from '../../src/notify/deliver.js';
import { entryFromStored, HTML_BUDGET_BYTES, type DigestEntry } from '../../src/notify/digest.js';
import { createLinks } from '../../src/notify/links.js';
import { prepareDigest } from '../../src/notify/encoded-body.js';
import { toMessageOptions } from '../../src/notify/mailer.js';
import {
  MAX_LINKED_ENTRIES,
  personaliseDigest,
  renderConfirmation,
  renderDigest,
  UNSUBSCRIBE_URL_PLACEHOLDER,
} from '../../src/notify/render-digest.js';
import { loadNotifyTemplates, type NotifyTemplates } from '../../src/notify/templates.js';
import { readToken, verifyToken } from '../../src/notify/tokens.js';
import {
  fixtureEntry,
  fixtureReport,
  NOTIFY_FIXTURES,
  syntheticEntry,
  TEST_SECRET,
  testSettings,
} from '../support/notify-fixtures.js';

const GOLDEN_DIR = fileURLToPath(new URL('../golden/', import.meta.url));
const UPDATE_GOLDEN = process.env['UPDATE_GOLDEN'] === '1';
const SENT_AT = Date.parse('2025-03-02T23:00:00Z'); // 08:00 on Monday 3 March in Seoul

/** Compare with tests/golden/<file>; UPDATE_GOLDEN=1 rewrites it instead. A missing golden file fails. */
async function expectGolden(file: string, actual: string): Promise<void> {
  const target = path.join(GOLDEN_DIR, file);
  if (UPDATE_GOLDEN) {
    await writeFile(target, actual, 'utf8');
    return;
  }
  const expected = await readFile(target, 'utf8').catch((err: unknown) => {
    throw new Error(
      `golden file ${file} is missing: run UPDATE_GOLDEN=1 npx vitest run tests/unit/notify-render.test.ts`,
      {
        cause: err,
      },
    );
  });
  expect(actual, `${file} differs from the golden file (UPDATE_GOLDEN=1 rewrites it after review)`).toBe(
    expected,
  );
}

let templates: NotifyTemplates;
beforeAll(async () => {
  templates = await loadNotifyTemplates();
});

const allFixtures = (): DigestEntry[] => NOTIFY_FIXTURES.map(fixtureEntry);

describe('renderDigest', () => {
  it('renders the immediate digest of one report (golden files)', async () => {
    const r = renderDigest(templates, {
      entries: [fixtureEntry('isw-roca-2025-03-02')],
      mode: 'immediate',
      sentAt: SENT_AT,
      timeZone: 'Asia/Seoul',
    });
    expect(r.subject).toBe('[ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가');
    expect(r).toMatchObject({ fullCount: 1, totalCount: 1 });
    await expectGolden('notify-digest-immediate.html', r.html);
    await expectGolden('notify-digest-immediate.txt', r.text);
  });

  it('renders a daily digest of four reports, newest first (golden files)', async () => {
    const r = renderDigest(templates, {
      entries: allFixtures(),
      mode: 'daily',
      sentAt: SENT_AT,
      timeZone: 'Asia/Seoul',
    });
    expect(r.subject).toBe('[ISW 브리핑] 2025년 5월 14일 — 이란 업데이트 외 3건');
    expect(r).toMatchObject({ fullCount: 4, totalCount: 4 });
    await expectGolden('notify-digest-daily.html', r.html);
    await expectGolden('notify-digest-daily.txt', r.text);
  });

  it('shows each report with its title, takeaways, categories, countries, outlook and both links', () => {
    const entries = allFixtures();
    const r = renderDigest(templates, { entries, mode: 'daily', sentAt: SENT_AT, timeZone: 'Asia/Seoul' });
    const $ = load(r.html);
    const reports = $('td.report').toArray();
    expect(reports).toHaveLength(4);
    for (const entry of entries) {
      const td = $(reports.find((el) => $(el).find('h2').text() === entry.title));
      expect(td.length, entry.title).toBe(1);
      expect(
        td
          .find('ol li')
          .toArray()
          .map((li) => $(li).text()),
      ).toEqual(entry.takeaways);
      expect(td.text()).toContain(entry.categories.join(' · '));
      expect(td.text()).toContain(entry.countries.map((c) => c.name).join(' · '));
      expect(td.text()).toContain(entry.outlook);
      const hrefs = td
        .find('a')
        .toArray()
        .map((a) => $(a).attr('href'));
      expect(hrefs).toContain(entry.postUrl);
      if (entry.fullReportUrl !== null) expect(hrefs).toContain(entry.fullReportUrl);
      for (const href of hrefs) expect(href).toMatch(/^https:\/\//);
      expect(r.text).toContain(entry.title);
      for (const t of entry.takeaways) expect(r.text).toContain(t);
    }
    expect(r.html).not.toMatch(/rs6\.net|constantcontact/);
  });

  it('links no file-board page: the title is plain text and no board button or line, in both parts', () => {
    const f = fixtureReport('isw-roca-2025-03-02');
    const onFileBoard = entryFromStored({
      ...f,
      postUrl: `file:///srv/isw-ko/data/board/posts/isw-ko-${f.reportId}.html`,
    });
    expect(onFileBoard.postUrl).toBeNull();
    for (const entries of [[onFileBoard], [onFileBoard, ...allFixtures().slice(1)]]) {
      const r = renderDigest(templates, { entries, mode: 'daily', sentAt: SENT_AT, timeZone: 'Asia/Seoul' });
      for (const part of [r.html, r.text]) {
        expect(part).not.toContain('file:');
        expect(part).not.toContain('/srv/isw-ko');
      }
      const $ = load(r.html);
      const hrefs = $('a')
        .toArray()
        .map((a) => $(a).attr('href') ?? '');
      for (const href of hrefs) expect(href).toMatch(/^https:\/\//);
      const td = $('td.report').filter((_, el) => $(el).find('h2').text() === onFileBoard.title);
      expect(td.find('h2 a')).toHaveLength(0);
      expect(td.find('a.button')).toHaveLength(0);
      expect(td.find('a.button-secondary').attr('href')).toBe(onFileBoard.fullReportUrl);
      expect(r.html.split('게시판에서 전문 보기')).toHaveLength(entries.length);
      expect(r.text.split('게시판에서 전문 보기')).toHaveLength(entries.length);
      expect(r.text).toContain(`ISW 원문 보기 (영문): ${onFileBoard.fullReportUrl ?? ''}`);
    }
  });

  it('keeps an http(s) board link as it is', () => {
    const f = fixtureReport('isw-roca-2025-03-02');
    const url = 'http://board.example.kr/index.php?mid=isw&document_srl=42';
    expect(entryFromStored({ ...f, postUrl: url }).postUrl).toBe(url);
    expect(entryFromStored({ ...f, postUrl: '/posts/x.html' }).postUrl).toBeNull();
    expect(entryFromStored({ ...f, postUrl: null }).postUrl).toBeNull();
  });

  it('inlines the CSS with juice: styles on the elements, media queries kept, Outlook conditionals kept', () => {
    const r = renderDigest(templates, {
      entries: [fixtureEntry('isw-roca-2025-03-02')],
      mode: 'immediate',
      sentAt: SENT_AT,
      timeZone: 'Asia/Seoul',
    });
    const $ = load(r.html);
    expect($('h2.report-title').attr('style')).toContain('font-size: 19px');
    expect($('a.button').attr('style')).toContain('background-color: #1f3a5f');
    expect($('table.container').attr('width')).toBe('600');
    const styles = $('style').text();
    expect(styles).toContain('@media');
    expect(styles).not.toContain('.report-title {');
    expect(r.html).toContain('<!--[if mso]>');
  });

  it('keeps a digest of many long reports under the Gmail clipping size, linking the rest', () => {
    const entries = Array.from({ length: 40 }, (_, i) => syntheticEntry(i, 900));
    const r = renderDigest(templates, { entries, mode: 'daily', sentAt: SENT_AT, timeZone: 'Asia/Seoul' });
    expect(r.htmlBytes).toBe(Buffer.byteLength(r.html));
    expect(r.htmlBytes).toBeLessThanOrEqual(HTML_BUDGET_BYTES);
    expect(r.fullCount).toBeGreaterThan(0);
    expect(r.fullCount).toBeLessThan(40);
    const $ = load(r.html);
    expect($('td.report')).toHaveLength(r.fullCount);
    expect($('ul.more-list li')).toHaveLength(40 - r.fullCount);
    expect($('p.more-title').text()).toBe(`이 밖의 보고서 ${40 - r.fullCount}건`);
    for (const a of $('ul.more-list a').toArray())
      expect($(a).attr('href')).toMatch(/^https:\/\/board\.example\.org\//);
    expect(r.text).toContain(`이 밖의 보고서 ${40 - r.fullCount}건`);
    expect(r.subject).toContain('외 39건');
  });

  it('caps the list of linked reports and counts the rest', () => {
    const entries = Array.from({ length: 300 }, (_, i) => syntheticEntry(i, 2000));
    const r = renderDigest(templates, { entries, mode: 'daily', sentAt: SENT_AT, timeZone: 'Asia/Seoul' });
    const $ = load(r.html);
    expect($('ul.more-list li')).toHaveLength(MAX_LINKED_ENTRIES);
    expect(r.html).toContain(`외 ${300 - r.fullCount - MAX_LINKED_ENTRIES}건은 게시판에서 확인하세요.`);
    expect(r.htmlBytes).toBeLessThanOrEqual(HTML_BUDGET_BYTES);
  });

  it('has one unsubscribe placeholder per part, replaced per subscriber (escaped in HTML)', () => {
    const r = renderDigest(templates, {
      entries: [fixtureEntry('isw-roca-2025-03-02')],
      mode: 'immediate',
      sentAt: SENT_AT,
      timeZone: 'Asia/Seoul',
    });
    expect(r.html.split(UNSUBSCRIBE_URL_PLACEHOLDER)).toHaveLength(2);
    expect(r.text.split(UNSUBSCRIBE_URL_PLACEHOLDER)).toHaveLength(2);
    const p = personaliseDigest(r, { unsubscribeUrl: 'https://x.example/unsubscribe?token=a&b' });
    expect(p.html).toContain('href="https://x.example/unsubscribe?token=a&amp;b"');
    expect(p.text).toContain('수신 거부:\nhttps://x.example/unsubscribe?token=a&b');
    expect(p.html).not.toContain(UNSUBSCRIBE_URL_PLACEHOLDER);
  });
});

describe('the built email (MIME)', () => {
  it.each([
    ['encoded once per digest (what the worker sends)', true],
    ['encoded by nodemailer for each copy', false],
  ])(
    'has both parts, the unsubscribe headers, Korean intact, valid links and a token that verifies: %s',
    async (_label, prepared) => {
      const settings = testSettings();
      const links = createLinks({
        baseUrl: settings.publicBaseUrl,
        secret: TEST_SECRET,
        mailto: settings.unsubscribeMailto,
      });
      const subscriber = {
        id: subscriberIdOf('reader@example.org'),
        address: 'reader@example.org',
        name: '김독자',
      };
      const rendered = renderDigest(templates, {
        entries: allFixtures(),
        mode: 'daily',
        sentAt: SENT_AT,
        timeZone: 'Asia/Seoul',
      });
      const now = SENT_AT;
      const mail = composeDigestMail(
        prepared ? prepareDigest(rendered) : { ...rendered, encoded: null },
        subscriber,
        'd202503030800',
        {
          unsubscribeUrl: links.unsubscribeUrl(subscriber, now),
          unsubscribeMailto: links.unsubscribeMailto(subscriber, now),
        },
        settings.from,
      );
      // The stream transport builds the message exactly as SMTP would send it (List-* headers included).
      const info = await nodemailer
        .createTransport({ streamTransport: true, buffer: true, newline: 'windows' })
        .sendMail(toMessageOptions(mail));
      const raw = info.message as Buffer;
      expect(mail.encodedParts !== undefined).toBe(prepared);
      // Every line of the message is 7-bit and within RFC 5322's 998-character limit; the body's
      // quoted-printable lines within RFC 2045's 76.
      const lines = raw.toString('latin1').split('\r\n');
      for (const line of lines) expect(line.length).toBeLessThanOrEqual(998);
      for (const line of lines.slice(lines.indexOf(''))) expect(line.length, line).toBeLessThanOrEqual(76);
      expect(raw.every((byte) => byte < 128)).toBe(true);

      const parsed = await simpleParser(raw);
      expect(parsed.subject).toBe('[ISW 브리핑] 2025년 5월 14일 — 이란 업데이트 외 3건');
      expect(parsed.from?.value[0]).toEqual({ name: 'ISW 브리핑', address: 'briefing@isw-ko.example' });
      expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0] : null).toEqual({
        name: '김독자',
        address: 'reader@example.org',
      });
      expect(parsed.messageId).toBe(`<notify-d202503030800-${subscriber.id}@isw-ko.example>`);
      expect(parsed.text).toContain('러시아의 공세 캠페인 평가, 2025년 3월 2일');
      expect(parsed.html).toContain('이란 업데이트');
      // The decoded parts are exactly this subscriber's personalised digest.
      const plain = personaliseDigest(rendered, { unsubscribeUrl: links.unsubscribeUrl(subscriber, now) });
      expect(String(parsed.html).replace(/\r\n/g, '\n')).toBe(plain.html);
      expect(String(parsed.text).replace(/\r\n/g, '\n').trimEnd()).toBe(plain.text.trimEnd());

      // mailparser turns List-* headers into objects; read the raw lines, unfolded.
      const header = (name: string): string =>
        (parsed.headerLines.find((h) => h.key === name)?.line ?? '')
          .replace(/^[^:]+:\s*/, '')
          .replace(/\r?\n[ \t]+/g, ' ');
      const listUnsubscribe = header('list-unsubscribe').replace(/\s+/g, '');
      const m = /^<(https:\/\/[^>]+)>,<(mailto:[^>]+)>$/.exec(listUnsubscribe);
      expect(m, listUnsubscribe).not.toBeNull();
      const httpsUrl = new URL(m?.[1] ?? '');
      expect(httpsUrl.origin + httpsUrl.pathname).toBe('https://isw-ko.example/unsubscribe');
      expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
      expect(header('list-id')).toContain('<briefing.isw-ko.example>');
      const mailto = new URL(m?.[2] ?? '');
      expect(mailto.pathname).toBe('unsubscribe@isw-ko.example');

      const token = httpsUrl.searchParams.get('token') ?? '';
      expect(verifyToken(token, 'unsubscribe', 'reader@example.org', TEST_SECRET, { now })).toMatchObject({
        subscriberId: subscriber.id,
      });
      expect(decodeURIComponent(mailto.search)).toContain(token);
      // The visible link in both parts is the same signed URL.
      const $ = load(parsed.html || '');
      const visible = $('a')
        .toArray()
        .map((a) => $(a).attr('href'))
        .filter((h) => h?.includes('/unsubscribe?') === true);
      expect(visible).toEqual([httpsUrl.href]);
      expect(parsed.text).toContain(`수신 거부:\n${httpsUrl.href}`);
      expect(readToken(token)?.purpose).toBe('unsubscribe');
    },
  );

  it('carries the https one-click URL alone when no mailbox reads unsubscribe mail (no mailto)', async () => {
    const settings = testSettings({ unsubscribeMailto: null });
    const links = createLinks({
      baseUrl: settings.publicBaseUrl,
      secret: TEST_SECRET,
      mailto: settings.unsubscribeMailto,
    });
    const subscriber = {
      id: subscriberIdOf('reader@example.org'),
      address: 'reader@example.org',
      name: null,
    };
    const unsubscribe = links.unsubscribeLinks(subscriber, SENT_AT);
    expect(unsubscribe.mailto).toBeNull();
    expect(links.unsubscribeMailto(subscriber, SENT_AT)).toBeNull();
    const rendered = renderDigest(templates, {
      entries: [fixtureEntry('isw-roca-2025-03-02')],
      mode: 'immediate',
      sentAt: SENT_AT,
      timeZone: 'Asia/Seoul',
    });
    const mail = composeDigestMail(
      prepareDigest(rendered),
      subscriber,
      'rt-1',
      { unsubscribeUrl: unsubscribe.url, unsubscribeMailto: unsubscribe.mailto },
      settings.from,
    );
    const info = await nodemailer
      .createTransport({ streamTransport: true, buffer: true, newline: 'windows' })
      .sendMail(toMessageOptions(mail));
    const raw = (info.message as Buffer).toString('latin1');
    // Unfolded (nodemailer may fold right after the colon).
    const header = /^List-Unsubscribe:(.*(?:\r\n[ \t].*)*)/m
      .exec(raw)?.[1]
      ?.replace(/\r\n[ \t]+/g, ' ')
      .trim();
    expect(header).toBe(`<${unsubscribe.url}>`);
    expect(raw).not.toMatch(/mailto:/i);
    expect(raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/im);
  });

  it('renders the confirmation email with the confirm link in both parts', () => {
    const r = renderConfirmation(templates, {
      confirmUrl: 'https://isw-ko.example/confirm?token=abc',
      mode: 'daily',
      validDays: 7,
    });
    expect(r.subject).toBe('[ISW 브리핑] 구독 확인을 부탁드립니다');
    expect(r.html).toContain('href="https://isw-ko.example/confirm?token=abc"');
    expect(r.text).toContain('https://isw-ko.example/confirm?token=abc');
    expect(r.text).toContain('7일 동안 유효');
  });
});

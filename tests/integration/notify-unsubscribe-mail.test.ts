// Covers the mailto: half of List-Unsubscribe (RFC 2369) end to end: the digest's mailto link, answered by a mail client into the bot's IMAP mailbox (private Dovecot), unsubscribes that subscriber and nobody else.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readFixture } from '../support/fixtures.js';
import { imapVars, startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';

let dovecot: TestDovecot;
let h: PipelineHarness;
let mailbox: string;

beforeAll(async () => {
  dovecot = await startTestDovecot();
  mailbox = await dovecot.freshMailbox('unsub');
  h = await startHarness({
    ...imapVars(dovecot, mailbox),
    MAIL_FROM: 'ISW 브리핑 <briefing@example.org>',
    UNSUBSCRIBE_MAILTO: 'isw-unsubscribe@example.org',
  });
});
afterAll(async () => {
  await h.close();
  await dovecot.close();
});

/** The mailto: URL of the List-Unsubscribe header of the digest mailed to `address` (outbox). */
async function mailtoFor(address: string): Promise<URL> {
  const outbox = path.join(h.env.DATA_DIR, 'outbox');
  const file = await waitFor(`the digest to ${address}`, () => {
    let names: string[];
    try {
      names = readdirSync(outbox).filter((n) => n.endsWith('.eml'));
    } catch {
      return undefined; // no outbox before the first mail
    }
    return names.find((n) => readFileSync(path.join(outbox, n), 'latin1').includes(`To: ${address}`));
  });
  const mail = await simpleParser(readFileSync(path.join(outbox, file)));
  const header = mail.headerLines.find((l) => l.key === 'list-unsubscribe')?.line ?? '';
  const mailto = /<(mailto:[^>]+)>/.exec(header.replace(/\s+/g, ''))?.[1];
  if (mailto === undefined) throw new Error(`no mailto: in ${header}`);
  return new URL(mailto);
}

/** What a mail client sends for a mailto: URL; `prefix` as a localised client adds it. */
async function reply(from: string, mailto: URL, prefix: string): Promise<Buffer> {
  const subject = mailto.searchParams.get('subject') ?? '';
  return new MailComposer({
    from,
    to: mailto.pathname,
    subject: `${prefix}${subject}`,
    text: 'Please take me off the list.',
    messageId: `<unsub-${Math.random().toString(36).slice(2)}@example.kr>`,
  })
    .compile()
    .build();
}

it('unsubscribes whoever answers the mailto: link, and only them; the request is marked processed', async () => {
  const app = await h.start({ inbox: true, workers: ['ingest', 'summarize', 'publish', 'notify'] });
  const add = (address: string) =>
    app.notify.subscribers.add({ address, name: null, mode: 'immediate', source: 'cli' });
  await add('kim@example.kr');
  await add('lee@example.kr');
  await add('park@example.kr');
  await dovecot.append(mailbox, readFixture('isw-roca-2025-03-02.eml'));
  const kim = await mailtoFor('kim@example.kr');
  const lee = await mailtoFor('lee@example.kr');
  expect(kim.pathname).toBe('isw-unsubscribe@example.org');

  // Kim's client sends the link as is; Lee's is Korean and encodes the whole Subject (RFC 2047).
  const fromKim = await reply('kim@example.kr', kim, 'Re: ');
  const fromLee = await reply('lee@example.kr', lee, '회신: ');
  expect(fromLee.toString('latin1')).toMatch(/^Subject: =\?UTF-8\?/im);
  // A forged token (Park's id, a made-up MAC) changes nothing.
  const parkId = (await app.notify.subscribers.getByAddress('park@example.kr'))?.id ?? '';
  const forged = new URL(kim.href);
  forged.searchParams.set('subject', `unsubscribe v1.u.${parkId}.abc.${'A'.repeat(43)}`);
  await dovecot.append(mailbox, fromKim);
  await dovecot.append(mailbox, fromLee);
  await dovecot.append(mailbox, await reply('mallory@example.net', forged, ''));

  await waitFor('both unsubscribed', async () => {
    const [k, l] = await Promise.all([
      app.notify.subscribers.getByAddress('kim@example.kr'),
      app.notify.subscribers.getByAddress('lee@example.kr'),
    ]);
    return k?.status === 'unsubscribed' && l?.status === 'unsubscribed';
  });
  expect((await app.notify.subscribers.getByAddress('park@example.kr'))?.status).toBe('active');
  expect((await app.notify.subscribers.getByAddress('kim@example.kr'))?.source).toBe('mail');
  await waitFor('the requests flagged processed', async () => {
    const msgs = await dovecot.messages(mailbox);
    return msgs.filter((m) => m.flags.some((f) => f.includes('IswKo'))).length === 3;
  });
  // The report and the two genuine requests are flagged; the forged one is left as it came.
  expect(await dovecot.messages(mailbox), 'mail is never deleted').toHaveLength(4);
  expect(h.postCount()).toBe(1);
});

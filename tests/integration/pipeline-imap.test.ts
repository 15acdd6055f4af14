// Covers `isw-ko run` on a real IMAP mailbox (private Dovecot): genuine ISW mail posted once, spoofed and foreign mail not, across a restart of the bot.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readFixture } from '../support/fixtures.js';
import { imapVars, startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';

let dovecot: TestDovecot;
let h: PipelineHarness;
let mailbox: string;

beforeAll(async () => {
  dovecot = await startTestDovecot();
  mailbox = await dovecot.freshMailbox('e2e');
  h = await startHarness(imapVars(dovecot, mailbox));
});
afterAll(async () => {
  await h.close();
  await dovecot.close();
});

/** The same email with its Authentication-Results removed: "ISW" mail nobody vouched for. */
function spoofed(raw: Buffer): Buffer {
  return Buffer.from(
    raw
      .toString('latin1')
      .replace(/^Authentication-Results:[^\n]*\n(?:[ \t][^\n]*\n)*/im, '')
      .replace(/^Message-ID: <([^>]+)>/im, 'Message-ID: <spoof-$1>')
      .replace(/^Subject: (.*)$/im, 'Subject: $1 (spoofed)'),
    'latin1',
  );
}

it('posts genuine mail once, holds spoofed mail, ignores other newsletters, and survives a restart', async () => {
  let app = await h.start({ inbox: true });
  await dovecot.append(mailbox, readFixture('isw-roca-2025-03-02.eml'));
  await dovecot.append(mailbox, spoofed(readFixture('isw-iran-update-2025-05-14.eml')));
  await dovecot.append(mailbox, readFixture('other-newsletter-2025-05-02.eml'));
  await waitFor('the genuine post', () => h.postCount() === 1);

  // Restart the bot, append the same genuine email again and a new one: the duplicate changes nothing.
  await app.close();
  await dovecot.append(mailbox, readFixture('isw-roca-2025-03-02.eml'));
  await dovecot.append(mailbox, readFixture('isw-roca-2024-01-26.eml'));
  app = await h.start({ inbox: true });
  await waitFor('the second genuine post', () => h.postCount() === 2);
  await waitFor('the genuine messages flagged processed', async () => {
    const msgs = await dovecot.messages(mailbox);
    return msgs.filter((m) => m.flags.some((f) => f.includes('IswKo'))).length >= 2 && msgs;
  });
  const titles = h
    .posts()
    .map((p) => p.title)
    .sort();
  expect(titles).toEqual([
    '[ISW] 러시아의 공세 캠페인 평가, 2024년 1월 26일',
    '[ISW] 러시아의 공세 캠페인 평가, 2025년 3월 2일',
  ]);
  expect(await dovecot.messages(mailbox), 'mail is never deleted').toHaveLength(5);
  const inbox = app.inbox;
  if (inbox === null || !('quarantine' in inbox)) throw new Error('expected the IMAP watcher');
  const held = await inbox.quarantine.list();
  expect(held.map((m) => m.subject)).toEqual(['Iran Update, May 14, 2025 (spoofed)']);
});

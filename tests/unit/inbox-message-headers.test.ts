// Covers the inbox's header readers: unfolding, repeated fields, and a Message-ID key identical to the queue's email id.
import { describe, expect, it } from 'vitest';
import {
  headerSection,
  headerValue,
  headerValues,
  messageKeyFromId,
  messageKeyOf,
} from '../../src/inbox/message-headers.js';
import { emailIdOf } from '../../src/queue/names.js';
import { fixtureNames, readFixture } from '../support/fixtures.js';

describe('headerValues', () => {
  it('unfolds continuation lines and keeps every occurrence in order', () => {
    const head = headerSection(
      Buffer.from(
        'Received: a\r\n\tb\r\nreceived: c\r\nSubject: x\r\n  y\r\n\r\nbody\r\nReceived: not a header\r\n',
      ),
    );
    expect(headerValues(head, 'Received')).toEqual(['a b', 'c']);
    expect(headerValue(head, 'subject')).toBe('x y');
    expect(headerValue(head, 'from')).toBeNull();
  });
});

describe('messageKeyOf', () => {
  it('equals the queue’s email id for every fixture, so a held message keeps its id once released', () => {
    for (const name of fixtureNames()) {
      const raw = readFixture(name);
      expect(messageKeyOf(raw)).toBe(emailIdOf(raw));
    }
  });

  it('ignores case and folding in the Message-ID, and hashes the bytes when there is none', () => {
    const a = Buffer.from('Message-ID: <ABC@x.example>\r\nSubject: a\r\n\r\nA');
    const b = Buffer.from('Subject: b\r\nmessage-id:\r\n <abc@X.example>\r\n\r\nB');
    expect(messageKeyOf(a)).toBe(messageKeyOf(b));
    expect(messageKeyOf(a)).toBe(messageKeyFromId('<abc@x.example>'));
    expect(messageKeyOf(b)).toBe(emailIdOf(b));
    const none = Buffer.from('Subject: c\r\n\r\nC');
    expect(messageKeyOf(none)).toMatch(/^h[0-9a-f]{24}$/);
    expect(messageKeyOf(none)).toBe(emailIdOf(none));
  });
});

// Covers the root logger: JSON lines, redaction of secret fields, and scrubbing of secret values from messages.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, scrubSecrets } from '../../src/shared/logger.js';

function capture(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n') };
}

describe('createLogger', () => {
  it('writes JSON lines with stable keys', () => {
    const out = capture();
    const log = createLogger({ level: 'info', format: 'json' }, out.stream);
    log.child({ stage: 'parse', reportId: 'r1' }).info('hello');
    const line = JSON.parse(out.lines()[0] ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({ msg: 'hello', stage: 'parse', reportId: 'r1', app: 'isw-ko' });
  });

  it('redacts secret fields and scrubs configured secret values anywhere in the line', () => {
    const out = capture();
    const log = createLogger({ level: 'info', format: 'json', secrets: ['sk-live-abcdef'] }, out.stream);
    log.info({ apiKey: 'whatever', headers: { authorization: 'Bearer x' } }, 'calling with sk-live-abcdef');
    log.error({ err: new Error('failed for key sk-live-abcdef') }, 'boom');
    const text = out.lines().join('\n');
    expect(text).not.toContain('sk-live-abcdef');
    expect(text).not.toContain('whatever');
    expect(text).not.toContain('Bearer x');
    expect(text).toContain('[redacted]');
  });
});

describe('scrubSecrets', () => {
  it('ignores very short secrets that would mangle ordinary text', () => {
    expect(scrubSecrets('a b c', ['a'])).toBe('a b c');
    expect(scrubSecrets('token=abcd1234', ['abcd1234'])).toBe('token=[redacted]');
  });
});

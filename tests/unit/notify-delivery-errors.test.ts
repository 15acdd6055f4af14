// SMTP failure classification (pure): 4xx retry, 5xx on the recipient bounce, content/policy reject, auth/sender config.
import { describe, expect, it } from 'vitest';
import { classifyDeliveryError, enhancedStatusOf } from '../../src/notify/delivery-errors.js';

describe('classifyDeliveryError', () => {
  it.each([
    [{ responseCode: 421, command: 'CONN', response: '421 4.3.2 Service not available' }, 'retry'],
    [{ responseCode: 450, command: 'RCPT TO', response: '450 4.2.1 Mailbox busy' }, 'retry'],
    [{ responseCode: 451, command: 'DATA', response: '451 4.3.0 Try again later' }, 'retry'],
    [{ responseCode: 452, command: 'RCPT TO', response: '452 4.5.3 Too many recipients' }, 'retry'],
    // RFC 5321 §4.5.3.1.10: 552 at RCPT is treated as 452.
    [{ responseCode: 552, command: 'RCPT TO', response: '552 5.2.2 Mailbox full' }, 'retry'],
    [{ responseCode: 503, command: 'DATA', response: '503 5.5.1 Bad sequence' }, 'retry'],
    [
      { responseCode: 550, command: 'RCPT TO', response: '550 5.1.1 <x@example.org>: User unknown' },
      'bounce',
    ],
    [{ responseCode: 553, command: 'RCPT TO', response: '553 5.1.3 Bad address syntax' }, 'bounce'],
    [{ responseCode: 550, command: 'RCPT TO', response: '550 No such user' }, 'bounce'],
    [{ responseCode: 550, command: 'RCPT TO', response: '550 5.7.1 Relaying denied' }, 'reject'],
    [{ responseCode: 550, command: 'DATA', response: '550 5.1.1 User unknown' }, 'bounce'],
    [{ responseCode: 554, command: 'DATA', response: '554 5.7.1 Message rejected as spam' }, 'reject'],
    [{ responseCode: 552, command: 'DATA', response: '552 5.3.4 Message too big' }, 'reject'],
    [{ responseCode: 535, command: 'AUTH PLAIN', response: '535 5.7.8 Authentication failed' }, 'config'],
    [{ responseCode: 530, command: 'MAIL FROM', response: '530 5.7.0 Authentication required' }, 'config'],
    [{ responseCode: 550, command: 'MAIL FROM', response: '550 5.7.1 Sender rejected' }, 'config'],
    [{ code: 'EAUTH', command: 'API' }, 'config'],
    [{ code: 'ETLS', command: 'CONN' }, 'config'],
    [{ code: 'ECONNECTION', command: 'CONN' }, 'retry'],
    [{ code: 'ETIMEDOUT', command: 'CONN' }, 'retry'],
    [{ code: 'EDNS', command: 'CONN' }, 'retry'],
    [{ code: 'EENVELOPE', command: 'API' }, 'reject'],
    [{}, 'retry'],
  ] as const)('%o → %s', (failure, action) => {
    expect(classifyDeliveryError(failure).action).toBe(action);
  });

  it('says whether the server may have taken the message (the RFC 1047 window)', () => {
    expect(classifyDeliveryError({ responseCode: 451, command: 'DATA' }).mayHaveBeenAccepted).toBe(false);
    expect(classifyDeliveryError({ code: 'EDNS', command: 'CONN' }).mayHaveBeenAccepted).toBe(false);
    // nodemailer reports a dropped connection as CONN whatever the phase: it may have been after DATA.
    expect(classifyDeliveryError({ code: 'ECONNECTION', command: 'CONN' }).mayHaveBeenAccepted).toBe(true);
  });

  it('keeps the reply as the reason and reads the enhanced status code', () => {
    const d = classifyDeliveryError({
      responseCode: 550,
      command: 'RCPT TO',
      response: '550 5.1.1 <x@example.org>:\r\n User unknown',
    });
    expect(d).toMatchObject({ action: 'bounce', responseCode: 550, enhancedCode: '5.1.1' });
    expect(d.reason).toBe('550 5.1.1 <x@example.org>: User unknown');
    expect(enhancedStatusOf('250 2.0.0 Ok')).toBe('2.0.0');
    expect(enhancedStatusOf('550 User unknown')).toBeNull();
    expect(enhancedStatusOf(undefined)).toBeNull();
  });
});

// Covers `checkMail`, the doctor's check of outgoing mail, against real SMTP servers on loopback: no SMTP_URL (the outbox folder), a server that answers, a login accepted and refused, and nothing listening.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/index.js';
import { freePort } from '../../src/shared/redis-server.js';
import { checkMail } from '../../src/notify/check-mail.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';

const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-mailcheck-'));
const env = (vars: Record<string, string>) => loadEnv({ env: { DATA_DIR: dir, ...vars }, envFile: null });
const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A real SMTP server that takes one user and password (AUTH PLAIN/LOGIN over plain TCP: loopback). */
async function serverWithLogin(user: string, pass: string): Promise<{ port: number }> {
  const server = new SMTPServer({
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 500,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === pass) callback(null, { user });
      else
        callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  });
  return { port: (server.server.address() as AddressInfo).port };
}

it('without SMTP_URL checks the outbox folder the digests are written to', async () => {
  const ok = await checkMail(env({}));
  expect(ok).toMatchObject({ name: 'mail', ok: true, hint: null });
  expect(ok.message).toBe(`no SMTP_URL: digests are written to ${path.join(dir, 'outbox')} as .eml files`);

  const file = path.join(dir, 'a-file');
  writeFileSync(file, 'x');
  const bad = await checkMail(env({ OUTBOX_DIR: path.join(file, 'outbox') }));
  expect(bad.ok).toBe(false);
  expect(bad.message).toContain('is not writable');
  expect(bad.hint).toContain('OUTBOX_DIR');
});

it('is ok when the SMTP server answers (nothing is sent)', async () => {
  const smtp: TestSmtpServer = await startTestSmtpServer();
  servers.push(smtp);
  const result = await checkMail(env({ SMTP_URL: smtp.url }));
  expect(result).toMatchObject({ ok: true, message: `SMTP server ${smtp.url} answers` });
  expect(smtp.accepted).toBe(0);
});

it('logs in with the credentials of SMTP_URL, and says which setting to fix when they are refused', async () => {
  const { port } = await serverWithLogin('bot', 'right-password');
  const good = await checkMail(env({ SMTP_URL: `smtp://bot:right-password@127.0.0.1:${port}` }));
  expect(good).toMatchObject({
    ok: true,
    message: `SMTP server smtp://127.0.0.1:${port} answers and accepts the login`,
  });

  const bad = await checkMail(env({ SMTP_URL: `smtp://bot:wrong-password@127.0.0.1:${port}` }));
  expect(bad.ok).toBe(false);
  expect(bad.message).toContain(`SMTP server smtp://127.0.0.1:${port}: 535`);
  expect(bad.hint).toContain('user, password and TLS settings in SMTP_URL');
  expect(`${bad.message} ${bad.hint}`).not.toContain('wrong-password');
});

it('fails with the host and port to check when nothing listens there', async () => {
  const port = await freePort();
  const result = await checkMail(env({ SMTP_URL: `smtp://127.0.0.1:${port}` }));
  expect(result.ok).toBe(false);
  expect(result.message).toContain(`SMTP server smtp://127.0.0.1:${port}:`);
  expect(result.hint).toContain('host and port in SMTP_URL');
});

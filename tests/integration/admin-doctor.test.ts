// Covers `checkAdmin`, the doctor's check of the HTTP server: a free address, one already served by isw-ko, one taken by something else, and a password that would cross the network in clear text.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { expect, it } from 'vitest';
import { checkAdmin } from '../../src/admin/check-admin.js';
import { loadEnv } from '../../src/config/index.js';

const env = (vars: Record<string, string>) => loadEnv({ env: vars, envFile: null });

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it('is ok on a free address, and says the admin pages are off without a password', async () => {
  const port = await freePort();
  const off = await checkAdmin(env({ ADMIN_LISTEN: `127.0.0.1:${port}` }));
  expect(off).toMatchObject({ name: 'admin', ok: true });
  expect(off.hint).toContain('ADMIN_PASSWORD');
  const on = await checkAdmin(
    env({ ADMIN_LISTEN: `127.0.0.1:${port}`, ADMIN_PASSWORD: 'a long admin password' }),
  );
  expect(on).toMatchObject({ ok: true, message: `http://127.0.0.1:${port} is free; admin pages on` });
});

it('is ok when isw-ko already serves the address, and fails when something else holds it', async () => {
  const app = Fastify();
  app.get('/healthz', () => ({ status: 'ok' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const ours = (app.server.address() as AddressInfo).port;
  const sockets = new Set<Socket>();
  const other: Server = createServer((socket) => {
    sockets.add(socket);
    socket.end('not http\r\n');
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const theirs = (other.address() as AddressInfo).port;
  try {
    expect(await checkAdmin(env({ ADMIN_LISTEN: `127.0.0.1:${ours}` }))).toMatchObject({
      ok: true,
      message: `isw-ko already serves http://127.0.0.1:${ours}`,
    });
    const taken = await checkAdmin(env({ ADMIN_LISTEN: `127.0.0.1:${theirs}` }));
    expect(taken).toMatchObject({
      ok: false,
      message: `cannot listen on 127.0.0.1:${theirs} (ADMIN_LISTEN): EADDRINUSE`,
    });
    expect(taken.hint).toContain('another program uses that port');
  } finally {
    await app.close();
    // The HTTP client may keep its half of the connection open: close() would wait for it.
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => other.close(resolve));
  }
});

it('fails when the admin password would cross the network without TLS', async () => {
  const check = await checkAdmin(
    env({ ADMIN_LISTEN: '0.0.0.0:8787', ADMIN_PASSWORD: 'a long admin password' }),
  );
  expect(check.ok).toBe(false);
  expect(check.message).toContain('clear text');
  const behindTls = await checkAdmin(
    env({
      ADMIN_LISTEN: `127.0.0.1:${await freePort()}`,
      ADMIN_PASSWORD: 'a long admin password',
      PUBLIC_BASE_URL: 'https://isw.example.org',
    }),
  );
  expect(behindTls.ok).toBe(true);
});

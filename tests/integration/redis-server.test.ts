// Covers the embedded redis-server: start on TCP and on a unix socket, reuse of a live socket, the last user stopping it, AOF survival, missing binary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/shared/app-error.js';
import { answersPing, startRedisServer } from '../../src/shared/redis-server.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'isw-ko-rs-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('startRedisServer', () => {
  it('starts on a unix socket, is reused by a second caller, and keeps data across a restart (AOF)', async () => {
    const dir = tempDir();
    const first = await startRedisServer({ bin: 'redis-server', dir });
    expect(first.owned).toBe(true);
    expect(first.socket).not.toBeNull();
    const second = await startRedisServer({ bin: 'redis-server', dir });
    expect(second.owned).toBe(false);
    const client = new Redis({ path: first.socket ?? '' });
    await client.set('k', 'v');
    await client.quit();
    await first.stop();
    await first.stop(); // safe twice
    const again = await startRedisServer({ bin: 'redis-server', dir });
    const c2 = new Redis({ path: again.socket ?? '' });
    expect(await c2.get('k')).toBe('v');
    await c2.quit();
    await again.stop();
  });

  it('is stopped by the last process using it, whichever started it', async () => {
    const dir = tempDir();
    const starter = await startRedisServer({ bin: 'redis-server', dir });
    const reuser = await startRedisServer({ bin: 'redis-server', dir });
    expect(reuser.owned).toBe(false);
    const socket = starter.socket ?? '';
    // The reusing process is still connected (its queues): the starter leaves the server running.
    const client = new Redis({ path: socket });
    await client.set('k', 'v');
    await starter.stop();
    expect(await answersPing({ path: socket })).toBe(true);
    expect(await client.get('k')).toBe('v');
    // Now the reuser is the last one: it stops the server, which writes its AOF first.
    await client.quit();
    await reuser.stop();
    expect(await answersPing({ path: socket })).toBe(false);
    const again = await startRedisServer({ bin: 'redis-server', dir });
    const c2 = new Redis({ path: again.socket ?? '' });
    expect(await c2.get('k')).toBe('v');
    await c2.quit();
    await again.stop();
    expect(await answersPing({ path: socket })).toBe(false);
  });

  it('starts on a free loopback TCP port', async () => {
    const server = await startRedisServer({ bin: 'redis-server', dir: tempDir(), port: 0 });
    expect(server.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(await answersPing({ host: '127.0.0.1', port: server.port ?? 0 })).toBe(true);
    await server.stop();
    expect(await answersPing({ host: '127.0.0.1', port: server.port ?? 0 })).toBe(false);
  });

  it('says how to install redis-server when the binary is missing', async () => {
    const err: unknown = await startRedisServer({ bin: 'redis-server-does-not-exist', dir: tempDir() }).catch(
      (e: unknown) => e,
    );
    expect(isAppError(err, 'REDIS_SERVER_MISSING')).toBe(true);
    expect((err as Error & { hint: string }).hint).toContain('apt-get install redis-server');
  });
});

// Test support: a real redis-server per test file, on a loopback port chosen at run time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRedisServer, type RunningRedis } from '../../src/shared/redis-server.js';

export interface TestRedis {
  readonly url: string;
  readonly dir: string;
  readonly server: RunningRedis;
  /** Stop the server and remove its data directory. */
  close(): Promise<void>;
}

/**
 * Start a private redis-server (AOF on) on a free loopback port. A missing binary fails the test
 * with the install hint — tests never skip themselves when a service is missing.
 */
export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-redis-'));
  const server = await startRedisServer({
    bin: process.env.REDIS_SERVER_BIN ?? 'redis-server',
    dir,
    port: 0,
  });
  if (server.url === null) throw new Error('the test redis-server has no TCP url');
  const url = server.url;
  return {
    url,
    dir,
    server,
    close: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh key/queue prefix per test, so tests sharing one server never see each other's jobs. */
export function freshPrefix(label = 't'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

import { Redis } from 'ioredis';

/** How to reach Redis: a URL, or the embedded server's unix socket. */
export type RedisTarget = { readonly url: string } | { readonly socket: string };

/**
 * A new ioredis connection. `maxRetriesPerRequest: null` is what BullMQ workers require (their
 * blocking commands must wait through a reconnect instead of failing).
 */
export function createRedis(target: RedisTarget, connectionName = 'isw-ko'): Redis {
  if ('url' in target) return new Redis(target.url, { maxRetriesPerRequest: null, connectionName });
  return new Redis({ path: target.socket, maxRetriesPerRequest: null, connectionName });
}

/** Where the target points, without any password, for logs. */
export function describeTarget(target: RedisTarget): string {
  if ('socket' in target) return `unix:${target.socket}`;
  const u = new URL(target.url);
  return `${u.protocol}//${u.hostname}:${u.port || '6379'}${u.pathname}`;
}

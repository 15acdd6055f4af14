import { Redis } from 'ioredis';

/** How to reach Redis: a URL, or the embedded server's unix socket. */
export type RedisTarget = { readonly url: string } | { readonly socket: string };

/** Plain ioredis connection options for a target (what BullMQ takes to open connections it owns). */
export interface RedisConnectionOptions {
  host?: string;
  port?: number;
  path?: string;
  username?: string;
  password?: string;
  db?: number;
  tls?: Record<string, never>;
  connectionName: string;
  /** BullMQ workers require null: their blocking commands must wait through a reconnect. */
  maxRetriesPerRequest: null;
}

/**
 * Options for a target. BullMQ is given options rather than a client so that it owns (and closes,
 * and listens for errors on) every connection it opens, including the duplicates it makes for
 * blocking commands.
 */
export function redisOptions(target: RedisTarget, connectionName = 'isw-ko'): RedisConnectionOptions {
  if ('socket' in target) return { path: target.socket, connectionName, maxRetriesPerRequest: null };
  const u = new URL(target.url);
  const db = Number(u.pathname.replace(/^\//, '') || 0);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username === '' ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    connectionName,
    maxRetriesPerRequest: null,
  };
}

/** A new ioredis client of our own (the store, the CLI); the caller listens for errors and quits it. */
export function createRedis(target: RedisTarget, connectionName = 'isw-ko'): Redis {
  return new Redis(redisOptions(target, connectionName));
}

/** Where the target points, without any password, for logs. */
export function describeTarget(target: RedisTarget): string {
  if ('socket' in target) return `unix:${target.socket}`;
  const u = new URL(target.url);
  return `${u.protocol}//${u.hostname}:${u.port || '6379'}${u.pathname}`;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOENT', 'EAI_AGAIN']);

/**
 * Whether an error only says Redis is out of reach for now (refused, reset, closed while ioredis
 * reconnects): expected while Redis restarts, and over by itself once it is back.
 */
export function isRedisConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  return /^(Connection is closed|connect ECONNREFUSED|read ECONNRESET|Stream isn't writeable)/.test(
    err.message,
  );
}

/**
 * Log a BullMQ queue or worker `error` event: a lost connection at warn (ioredis reconnects and
 * the worker resumes by itself), anything else at error.
 */
export function logQueueError(
  log: { warn: (o: object, msg: string) => void; error: (o: object, msg: string) => void },
  err: Error,
  fields: Record<string, unknown>,
  what: 'queue' | 'worker',
): void {
  if (isRedisConnectionError(err)) {
    log.warn(
      { ...fields, err: err.message },
      `${what} lost its redis connection; it resumes when redis is back`,
    );
  } else {
    log.error({ ...fields, err }, `${what} error`);
  }
}

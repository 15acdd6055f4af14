import type { Env } from '../config/index.js';

/** The admin server's slice of the configuration. */
export interface AdminSettings {
  readonly host: string;
  readonly port: number;
  /** ADMIN_PASSWORD; null turns the admin pages and API off (health, metrics, public routes stay). */
  readonly password: string | null;
  /** ADMIN_TOKEN, for `Authorization: Bearer` on the API and /metrics; null: no bearer access. */
  readonly token: string | null;
  /** ADMIN_SESSION_SECRET; null: a random key per process (restarts log admins out). */
  readonly sessionSecret: string | null;
  /** Mark the session cookie `Secure`: the public base URL is https, so browsers reach us over TLS. */
  readonly secureCookies: boolean;
}

/**
 * Split ADMIN_LISTEN (`host:port`, `[v6]:port`) into host and port. The schema in
 * `config/settings.ts` has already checked the shape, so this only takes it apart.
 */
export function parseListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(colon + 1)) };
}

/** The admin settings from the validated environment. */
export function adminSettingsFrom(env: Env): AdminSettings {
  const { host, port } = parseListen(env.ADMIN_LISTEN);
  return {
    host,
    port,
    password: env.ADMIN_PASSWORD ?? null,
    token: env.ADMIN_TOKEN ?? null,
    sessionSecret: env.ADMIN_SESSION_SECRET ?? null,
    secureCookies: env.PUBLIC_BASE_URL.startsWith('https:'),
  };
}

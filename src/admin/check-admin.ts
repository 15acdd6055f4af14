import { createServer } from 'node:net';
import type { Env } from '../config/index.js';
import { adminSettingsFrom } from './admin-settings.js';

/** One line of `isw-ko doctor` (the shape of `DoctorCheck` in src/cli/doctor.ts). */
export interface AdminCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
  readonly hint: string | null;
}

const LOOPBACK = /^(?:127\.\d+\.\d+\.\d+|::1|localhost)$/i;
const PROBE_TIMEOUT_MS = 2_000;

/**
 * `isw-ko doctor`'s check of the HTTP server: is ADMIN_LISTEN free (or already served by a running
 * isw-ko), are the admin pages on, and would the password cross a network in clear text?
 */
export async function checkAdmin(env: Env): Promise<AdminCheck> {
  const s = adminSettingsFrom(env);
  const where = `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
  if (s.password !== null && !LOOPBACK.test(s.host) && !s.secureCookies) {
    return {
      name: 'admin',
      ok: false,
      message: `ADMIN_LISTEN=${env.ADMIN_LISTEN} is reachable from the network, but PUBLIC_BASE_URL is not https: the admin password would travel in clear text`,
      hint: 'put a TLS reverse proxy in front and set PUBLIC_BASE_URL=https://…, or listen on 127.0.0.1 and reach it through an SSH tunnel',
    };
  }
  const bind = await tryBind(s.host, s.port);
  if (bind !== null) {
    if (bind === 'EADDRINUSE' && (await answersAsIswKo(where))) {
      return { name: 'admin', ok: true, message: `isw-ko already serves http://${where}`, hint: null };
    }
    return {
      name: 'admin',
      ok: false,
      message: `cannot listen on ${where} (ADMIN_LISTEN): ${bind}`,
      hint:
        bind === 'EADDRINUSE'
          ? 'another program uses that port: stop it or choose another port in ADMIN_LISTEN'
          : 'use an address of this machine (127.0.0.1, 0.0.0.0) and a port above 1023 in ADMIN_LISTEN',
    };
  }
  if (s.password === null) {
    return {
      name: 'admin',
      ok: true,
      message: `http://${where} is free; the admin pages are off (no ADMIN_PASSWORD), health and metrics answer`,
      hint: 'set ADMIN_PASSWORD (12 characters or more) to turn the admin pages on',
    };
  }
  return {
    name: 'admin',
    ok: true,
    message: `http://${where} is free; admin pages on${s.token === null ? '' : ', API token set'}`,
    hint:
      s.sessionSecret === null ? 'set ADMIN_SESSION_SECRET so admins stay logged in across restarts' : null,
  };
}

/** Listen and close at once: null when the address can be bound, else the error code. */
/**
 * Whether the address can be listened on right now: null, or the bind error's code (EADDRINUSE…).
 * Also what `run` checks before it starts anything (src/cli/admin-context.ts).
 */
export function tryBind(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code ?? err.message);
    });
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => {
        resolve(null);
      });
    });
  });
}

async function answersAsIswKo(where: string): Promise<boolean> {
  const host = where.startsWith('0.0.0.0:') ? where.replace('0.0.0.0', '127.0.0.1') : where;
  try {
    const res = await fetch(`http://${host}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    if (!res.ok) return false;
    const body: unknown = await res.json();
    return typeof body === 'object' && body !== null && 'status' in body && body.status === 'ok';
  } catch {
    // Whatever holds the port does not speak our HTTP: the caller reports the port as taken.
    return false;
  }
}

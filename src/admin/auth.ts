import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Compare a secret someone sent with the configured one in constant time. Both are hashed first:
 * `timingSafeEqual` needs buffers of one length, and comparing digests keeps the secret's length
 * from leaking through an early return.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i.exec(header);
  return m?.[1] ?? null;
}

/** A verified admin session. */
export interface Session {
  /** Random per login: what the CSRF token is bound to. */
  readonly id: string;
  readonly expiresAt: number;
}

export interface SessionAuthOptions {
  /** Key of the cookie signatures (ADMIN_SESSION_SECRET, or a random one per process). */
  readonly secret: string;
  /** The admin password: a session signed under an old password stops working when it changes. */
  readonly password: string;
  readonly ttlMs: number;
  readonly clock?: () => number;
}

const VERSION = 'v1';

/**
 * Signed, stateless admin sessions: the cookie is `v1.<expiry>.<id>.<hmac>`, so no session store is
 * needed and nothing is lost on restart (with a configured secret). The MAC covers a digest of the
 * password, so changing ADMIN_PASSWORD ends every session. Logging out clears the cookie; a copied
 * cookie stays valid until it expires, which is why the lifetime is short.
 */
export class SessionAuth {
  private readonly secret: string;
  private readonly passwordDigest: string;
  private readonly ttlMs: number;
  private readonly clock: () => number;

  constructor(options: SessionAuthOptions) {
    this.secret = options.secret;
    this.passwordDigest = createHash('sha256').update(options.password, 'utf8').digest('hex');
    this.ttlMs = options.ttlMs;
    this.clock = options.clock ?? Date.now;
  }

  /** A new session and its cookie value. */
  issue(): { readonly session: Session; readonly cookie: string } {
    const id = randomBytes(18).toString('base64url');
    const expiresAt = this.clock() + this.ttlMs;
    const body = `${VERSION}.${expiresAt}.${id}`;
    return { session: { id, expiresAt }, cookie: `${body}.${this.mac(`session.${body}`)}` };
  }

  /** The session a cookie value stands for, or null when it is forged, garbled or expired. */
  verify(cookie: string | undefined): Session | null {
    if (cookie === undefined) return null;
    const parts = cookie.split('.');
    if (parts.length !== 4) return null;
    const [version, expiry, id, mac] = parts as [string, string, string, string];
    if (version !== VERSION || !/^\d+$/.test(expiry) || id === '') return null;
    if (!secretsEqual(mac, this.mac(`session.${version}.${expiry}.${id}`))) return null;
    const expiresAt = Number(expiry);
    if (expiresAt <= this.clock()) return null;
    return { id, expiresAt };
  }

  /** The CSRF token of a session: put in every form, checked on every POST. */
  csrfToken(session: Session): string {
    return this.mac(`csrf.${session.id}`);
  }

  /** Whether a form's CSRF token belongs to the session. */
  checkCsrf(session: Session, token: unknown): boolean {
    return typeof token === 'string' && secretsEqual(token, this.csrfToken(session));
  }

  private mac(input: string): string {
    return createHmac('sha256', this.secret).update(`${input}.${this.passwordDigest}`).digest('base64url');
  }
}

/** A random key for session cookies when ADMIN_SESSION_SECRET is unset. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

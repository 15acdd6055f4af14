// Test support: a private Dovecot (Debian's dovecot-imapd) per test file, on a loopback port
// chosen at run time, with its own config, state, temporary mail store and user — no root-wide
// configuration touched. Start/stop/kill/restart it, turn IDLE off, and append mail through imapflow.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { freePort } from '../../src/shared/redis-server.js';
import type { ImapSettings } from '../../src/inbox/imap-settings.js';
import type { SenderPolicy } from '../../src/inbox/sender-policy.js';

export interface DovecotOptions {
  /** Advertise IDLE (default true). False: a server without IDLE, for the polling fallback. */
  readonly idle?: boolean;
  /**
   * Also accept OAuth2 bearer tokens (SASL XOAUTH2, OAUTHBEARER RFC 7628) through an `oauth2`
   * passdb that asks an RFC 7662 introspection endpoint (POST `token=…`, answer
   * `{"active":true,"username":…}`) whether the token is live and whose it is. Password logins
   * (PLAIN, LOGIN) keep working.
   */
  readonly oauth2?: DovecotOAuth2Options;
  /**
   * TLS: a certificate for 127.0.0.1 signed by a CA made for this instance (`caFile`), served on
   * an implicit-TLS port (`tlsPort`, like 993) and as STARTTLS on the plain port (like 143).
   * Plain logins stay allowed, so the other tests are unchanged.
   */
  readonly tls?: boolean;
}

export interface DovecotOAuth2Options {
  /** The introspection endpoint, e.g. a test OAuth server's `introspectionUrl`. */
  readonly introspectionUrl: string;
  /**
   * The OAuth SASL mechanisms to advertise (default both, as Gmail does; Microsoft's IMAP offers
   * XOAUTH2 only). imapflow picks OAUTHBEARER when offered, else XOAUTH2.
   */
  readonly mechanisms?: readonly ('xoauth2' | 'oauthbearer')[];
}

export interface TestDovecot {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dir: string;
  readonly idle: boolean;
  /** With `tls`: the implicit-TLS port, and the PEM of the CA that signed the server's certificate. */
  readonly tlsPort: number | null;
  readonly caFile: string | null;
  /** Watcher settings for this server (flag mode, IDLE per server, 30 s poll) with overrides. */
  settings(overrides?: Partial<ImapSettings>): ImapSettings;
  /** A new mailbox with a unique name, for one test. */
  freshMailbox(label?: string): Promise<string>;
  /** APPEND a message; returns its UID (UIDPLUS, RFC 4315). */
  append(
    mailbox: string,
    raw: Buffer,
    options?: { readonly flags?: string[]; readonly date?: Date },
  ): Promise<number>;
  /** Delete and create the mailbox again: its UIDVALIDITY changes, the messages are gone. */
  recreateMailbox(mailbox: string): Promise<void>;
  uidValidity(mailbox: string): Promise<string>;
  /** UIDs and flags of every message in a mailbox. */
  messages(mailbox: string): Promise<{ uid: number; flags: string[]; messageId: string | null }[]>;
  /** Graceful stop (SIGTERM), waiting until the port is closed. */
  stop(): Promise<void>;
  /** Crash: SIGKILL to the master and every process of the instance. */
  kill(): Promise<void>;
  /** Start again on the same port with the same mail store. */
  start(): Promise<void>;
  /** The instance's log, for failure messages. */
  log(): string;
  /** Stop and delete everything. Safe to call twice. */
  close(): Promise<void>;
}

const INSTALL_HINT =
  'Dovecot is needed for the IMAP integration tests: install Debian/Ubuntu `dovecot-imapd` ' +
  '(`apt-get install dovecot-imapd`; .ci/run does this) or set DOVECOT_BIN to the dovecot binary.';

/** The dovecot binary: DOVECOT_BIN, or `dovecot` on PATH or in /usr/sbin. Throws the install hint. */
export function dovecotBinary(): string {
  const candidates =
    process.env.DOVECOT_BIN !== undefined && process.env.DOVECOT_BIN !== ''
      ? [process.env.DOVECOT_BIN]
      : [
          ...(process.env.PATH ?? '')
            .split(':')
            .filter((d) => d !== '')
            .map((d) => path.join(d, 'dovecot')),
          '/usr/sbin/dovecot',
          '/usr/local/sbin/dovecot',
        ];
  const found = candidates.find(isExecutable);
  if (found !== undefined) return found;
  throw new Error(`dovecot was not found (looked at ${candidates.join(', ')}). ${INSTALL_HINT}`);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Signal a whole process group; false when it is already gone. */
function signalGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    return false;
  }
}

// Debian's account for unprivileged Dovecot processes; as root the mail processes run as it
// (Dovecot refuses to run them as root).
function dovenullIds(): { uid: number; gid: number } {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('dovenull:'));
  const parts = line?.split(':');
  if (parts === undefined || parts.length < 4)
    throw new Error(`the dovenull user is missing. ${INSTALL_HINT}`);
  return { uid: Number(parts[2]), gid: Number(parts[3]) };
}

function config(o: {
  dir: string;
  port: number;
  idle: boolean;
  users: string;
  asRoot: boolean;
  me: string;
  /** The oauth2 passdb: its args file and the mechanisms it serves. */
  oauth2: { args: string; mechanisms: readonly string[] } | null;
  tls: { port: number; cert: string; key: string } | null;
}): string {
  const oauthMechs = o.oauth2?.mechanisms.join(' ') ?? '';
  const lines = [
    'protocols = imap',
    'listen = 127.0.0.1',
    `base_dir = ${o.dir}/run`,
    `state_dir = ${o.dir}/state`,
    `log_path = ${o.dir}/dovecot.log`,
    ...(o.tls === null
      ? ['ssl = no']
      : ['ssl = yes', `ssl_cert = <${o.tls.cert}`, `ssl_key = <${o.tls.key}`, 'ssl_min_protocol = TLSv1.2']),
    'disable_plaintext_auth = no',
    `auth_mechanisms = plain login${oauthMechs === '' ? '' : ` ${oauthMechs}`}`,
    // Why a token was refused (inactive, wrong user, endpoint down) goes to the log.
    ...(o.oauth2 === null ? [] : ['auth_verbose = yes']),
    // Tests log in with a wrong password on purpose; Dovecot's failure delay would then slow
    // them down (the per-IP auth penalty is switched off in `service anvil` below).
    'auth_failure_delay = 0',
    'mail_location = maildir:~/Maildir',
    'first_valid_uid = 1',
    'first_valid_gid = 1',
    'passdb {',
    '  driver = passwd-file',
    // Only passwords go here; a bearer token is never checked against the password.
    '  mechanisms = plain login',
    `  args = scheme=PLAIN username_format=%u ${o.users}`,
    '}',
    // The token is the "password" the OAuth mechanisms hand to the passdb; the oauth2 driver asks
    // the introspection endpoint about it and succeeds when the token is active and its username
    // is the login name. No password comes back, so the passwd-file userdb still gives home and uid.
    ...(o.oauth2 === null
      ? []
      : ['passdb {', '  driver = oauth2', `  mechanisms = ${oauthMechs}`, `  args = ${o.oauth2.args}`, '}']),
    'userdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${o.users}`,
    '}',
    'service imap-login {',
    '  chroot =',
    '  inet_listener imap {',
    '    address = 127.0.0.1',
    `    port = ${o.port}`,
    '  }',
    '  inet_listener imaps {',
    ...(o.tls === null
      ? ['    port = 0']
      : ['    address = 127.0.0.1', `    port = ${o.tls.port}`, '    ssl = yes']),
    '  }',
    '}',
    'service anvil {',
    '  chroot =',
    // No socket, no auth penalty: every later login from 127.0.0.1 would wait up to 15 s.
    '  unix_listener anvil-auth-penalty {',
    '    mode = 0',
    '  }',
    '}',
    'protocol imap {',
    '  mail_max_userip_connections = 50',
    // Without IDLE in the capability list (RFC 2177), clients must poll: the fallback test.
    ...(o.idle
      ? []
      : [
          '  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT THREAD=REFERENCES MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE LITERAL+',
        ]),
    '}',
  ];
  if (!o.asRoot) {
    // As an ordinary user every Dovecot process runs as that user.
    lines.push(`default_login_user = ${o.me}`, `default_internal_user = ${o.me}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A CA and a server certificate for 127.0.0.1 (subjectAltName IP and DNS localhost) signed by it,
 * made with the openssl CLI: a client trusts the server only when given the CA (`IMAP_CA_FILE`).
 */
function makeCertificates(dir: string): { cert: string; key: string; ca: string } {
  const tlsDir = path.join(dir, 'tls');
  mkdirSync(tlsDir, { recursive: true });
  const f = (name: string): string => path.join(tlsDir, name);
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.error !== undefined || r.status !== 0) {
      throw new Error(
        `openssl ${args[0] ?? ''} failed: ${r.error?.message ?? r.stderr}. Install it: apt-get install openssl`,
      );
    }
  };
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=isw-ko test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  ]);
  writeFileSync(
    f('ext.cnf'),
    'subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n',
  );
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
    '-out',
    f('server.pem'),
  ]);
  // Dovecot's unprivileged login processes read the key only at start, as the master (root): fine.
  return { cert: f('server.pem'), key: f('server.key'), ca: f('ca.pem') };
}

/**
 * The oauth2 passdb's args file (Dovecot 2.3 db-oauth2, PasswordDatabase.oauth2 in the wiki):
 * RFC 7662 introspection by POST, no tokeninfo, no local JWT validation.
 */
function oauth2Args(introspectionUrl: string): string {
  return [
    'introspection_mode = post',
    `introspection_url = ${introspectionUrl}`,
    // The introspection answer names the account; the driver refuses a token whose username is
    // not the one the client logged in as. The login name is used as given (default %Lu lowercases).
    'username_attribute = username',
    'username_format = %u',
    // An inactive (expired, revoked, unknown) token answers {"active":false}: login refused.
    'active_attribute = active',
    'active_value = true',
    // Fail fast rather than hang a login when the test server is gone.
    'timeout_msecs = 5000',
    '',
  ].join('\n');
}

/**
 * Start a private Dovecot on a free loopback port with one user. Fails with the install hint
 * when Dovecot is missing — tests never skip themselves.
 */
export async function startTestDovecot(options: DovecotOptions = {}): Promise<TestDovecot> {
  const bin = dovecotBinary();
  const idle = options.idle ?? true;
  const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-dovecot-'));
  // The mail processes run unprivileged and must walk into the store.
  chmodSync(dir, 0o755);
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? dovenullIds() : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const user = 'isw';
  const password = randomBytes(8).toString('hex');
  const home = path.join(dir, 'home', user);
  mkdirSync(home, { recursive: true });
  mkdirSync(path.join(dir, 'run'), { recursive: true });
  mkdirSync(path.join(dir, 'state'), { recursive: true });
  if (asRoot) {
    chownSync(path.join(dir, 'home'), ids.uid, ids.gid);
    chownSync(home, ids.uid, ids.gid);
  }
  const users = path.join(dir, 'users');
  writeFileSync(users, `${user}:{PLAIN}${password}:${ids.uid}:${ids.gid}::${home}\n`);
  const port = await freePort();
  let oauth2: { args: string; mechanisms: readonly string[] } | null = null;
  if (options.oauth2 !== undefined) {
    const args = path.join(dir, 'dovecot-oauth2.conf.ext');
    writeFileSync(args, oauth2Args(options.oauth2.introspectionUrl));
    oauth2 = { args, mechanisms: options.oauth2.mechanisms ?? ['xoauth2', 'oauthbearer'] };
  }
  const conf = path.join(dir, 'dovecot.conf');
  let tls: { port: number; cert: string; key: string; ca: string } | null = null;
  if (options.tls === true) tls = { port: await freePort(), ...makeCertificates(dir) };
  writeFileSync(conf, config({ dir, port, idle, users, asRoot, me: userInfo().username, oauth2, tls }));

  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let testClient: ImapFlow | null = null;
  let closed = false;
  const logFile = path.join(dir, 'dovecot.log');
  const readLog = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '(no log yet)';
    }
  };

  const launch = async (): Promise<void> => {
    let output = '';
    // -F: stay in the foreground, so the master is our child and its process group is ours.
    const proc = spawn(bin, ['-F', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const state: { failure: Error | null } = { failure: null };
    proc.once('error', (err) => {
      state.failure = new Error(`dovecot could not be started: ${err.message}. ${INSTALL_HINT}`);
    });
    exited = new Promise((resolve) =>
      proc.once('exit', () => {
        resolve();
      }),
    );
    proc.once('exit', (code, signal) => {
      state.failure ??= new Error(
        `dovecot exited (code ${String(code)}, signal ${String(signal)}): ${output}\n${readLog().slice(-2000)}`,
      );
    });
    child = proc;
    // A test run that dies without closing must not leave a Dovecot behind.
    const pid = proc.pid;
    if (pid !== undefined) {
      const reap = (): void => {
        signalGroup(pid, 'SIGKILL');
      };
      process.once('exit', reap);
      proc.once('exit', () => process.off('exit', reap));
    }
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (state.failure !== null) throw state.failure;
      if (await greets(port)) return;
      if (Date.now() > deadline)
        throw new Error(
          `dovecot did not greet on port ${port} within 15 s: ${output}\n${readLog().slice(-2000)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const waitPortClosed = async (): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (await greets(port)) {
      if (Date.now() > deadline) throw new Error(`dovecot still answers on ${port} after stopping`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const dropTestClient = (): void => {
    testClient?.close();
    testClient = null;
  };

  const signal = async (sig: NodeJS.Signals, group: boolean): Promise<void> => {
    dropTestClient();
    const proc = child;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
    if (group) signalGroup(proc.pid, sig);
    else proc.kill(sig);
    await exited;
    // The login and imap processes die with the master (they watch its pipe); make sure.
    if (group) signalGroup(proc.pid, 'SIGKILL');
    child = null;
    await waitPortClosed();
  };

  const client = async (): Promise<ImapFlow> => {
    if (testClient !== null && testClient.usable) return testClient;
    const c = new ImapFlow({
      host: '127.0.0.1',
      port,
      secure: false,
      doSTARTTLS: false,
      auth: { user, pass: password },
      logger: false,
      disableAutoIdle: true,
    });
    c.on('error', () => {
      // The test-side connection dies with the server in the restart tests; the next call reconnects.
      testClient = null;
    });
    await c.connect();
    testClient = c;
    return c;
  };

  await launch();

  const self: TestDovecot = {
    host: '127.0.0.1',
    port,
    user,
    password,
    dir,
    idle,
    tlsPort: tls?.port ?? null,
    caFile: tls?.ca ?? null,
    settings: (overrides = {}) => ({
      host: '127.0.0.1',
      port,
      tls: 'none',
      ca: null,
      auth: { user, pass: password },
      mailbox: 'INBOX',
      processed: { kind: 'flag', flag: 'IswKoProcessed' },
      idle: true,
      pollMs: 30_000,
      watchdogMs: 36 * 3_600_000,
      ...overrides,
    }),
    freshMailbox: async (label = 't') => {
      const name = `${label}-${randomBytes(4).toString('hex')}`;
      await (await client()).mailboxCreate(name);
      return name;
    },
    append: async (mailbox, raw, opts = {}) => {
      const res = await (await client()).append(mailbox, raw, opts.flags ?? [], opts.date);
      if (res === false || res.uid === undefined) throw new Error(`APPEND to ${mailbox} returned no UID`);
      return res.uid;
    },
    recreateMailbox: async (mailbox) => {
      const c = await client();
      await c.mailboxDelete(mailbox);
      await c.mailboxCreate(mailbox);
    },
    uidValidity: async (mailbox) => {
      const st = await (await client()).status(mailbox, { uidValidity: true });
      if (st === false || st.uidValidity === undefined) throw new Error(`STATUS ${mailbox} failed`);
      return st.uidValidity.toString();
    },
    messages: async (mailbox) => {
      const c = await client();
      const lock = await c.getMailboxLock(mailbox);
      try {
        if (c.mailbox === false || c.mailbox.exists === 0) return [];
        const all = await c.fetchAll('1:*', { uid: true, flags: true, envelope: true });
        return all.map((m) => ({
          uid: m.uid,
          flags: [...(m.flags ?? [])],
          messageId: m.envelope?.messageId ?? null,
        }));
      } finally {
        lock.release();
      }
    },
    stop: () => signal('SIGTERM', false),
    kill: () => signal('SIGKILL', true),
    start: async () => {
      if (child !== null) return;
      await launch();
    },
    log: readLog,
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await signal('SIGTERM', false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return self;
}

/** True when something on the port sends an IMAP greeting ("* OK") within a second. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => {
      done(false);
    });
    sock.once('error', () => {
      done(false);
    });
    sock.once('data', (d) => {
      done(d.toString().startsWith('* OK'));
    });
  });
}

/**
 * Wait until `check` returns a value other than undefined/false, polling every 20 ms, or fail
 * after `timeoutMs` with `what` in the message. For conditions no event announces.
 */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP proxy in front of a server that can go silent on its open connections. */
export interface FreezingProxy {
  readonly port: number;
  /**
   * Stop forwarding on every open connection without closing it — a NAT that forgot the flow, a
   * server that hangs: the client sees nothing, not even a reset. New connections work.
   */
  freeze(): void;
  close(): Promise<void>;
}

/** Start a {@link FreezingProxy} to 127.0.0.1:`target` on a free loopback port. */
export async function startFreezingProxy(target: number): Promise<FreezingProxy> {
  const live = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const all = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    const pair = { client, upstream };
    live.add(pair);
    all.add(client).add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      live.delete(pair);
      all.delete(client);
      all.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    freeze: () => {
      for (const { client, upstream } of live) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      live.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of all) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * The bot's environment for watching `mailbox` on the test Dovecot, trusting the
 * Authentication-Results the fixtures carry (their made-up receiving server, mx1.example.com).
 */
export function imapVars(dovecot: TestDovecot, mailbox: string): Record<string, string> {
  return {
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_TLS: 'none',
    IMAP_USER: dovecot.user,
    IMAP_PASSWORD: dovecot.password,
    IMAP_MAILBOX: mailbox,
    SENDER_VERIFY: 'trust-header',
    SENDER_TRUSTED_AUTHSERV: 'mx1.example.com',
  };
}

/**
 * Mail from ISW's domain accepted without checking DKIM/SPF (SENDER_VERIFY=off): for tests of the
 * connection itself (TLS, OAuth2), whose messages are unsigned fixtures.
 */
export const ISW_UNVERIFIED: SenderPolicy = {
  mode: 'off',
  allowlist: ['understandingwar.org'],
  rewriteDomains: ['ccsend.com'],
  trustedForwarders: [],
  trustedAuthservIds: [],
};

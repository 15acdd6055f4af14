import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { AppError } from './app-error.js';
import type { Logger } from './logger.js';

export interface RedisServerOptions {
  /** redis-server binary (name on PATH or a path). */
  readonly bin: string;
  /** Data directory (AOF files, the socket). Created if missing. */
  readonly dir: string;
  /** TCP port on 127.0.0.1; 0 picks a free one. Omit to listen on a unix socket in `dir` only. */
  readonly port?: number;
  readonly logger?: Logger;
  /** How long to wait for "Ready to accept connections". */
  readonly startTimeoutMs?: number;
  /**
   * Run redis-server in a session and process group of its own. A terminal's Ctrl-C goes to the
   * whole foreground process group (so do `timeout` and a group kill): in ours, redis-server would
   * exit at once while isw-ko is still finishing its current jobs, which then cannot be recorded.
   * Apart, only isw-ko gets the signal and stops redis last. If isw-ko exits without stopping it,
   * an `exit` hook does; only a SIGKILL leaves it running, and the next start reuses it.
   */
  readonly ownProcessGroup?: boolean;
}

/** A private redis-server: where it listens, and how to stop it. */
export interface RunningRedis {
  /** redis://127.0.0.1:PORT, or redis+unix path as `socket`. */
  readonly url: string | null;
  readonly socket: string | null;
  readonly port: number | null;
  /** False when an already running server (another isw-ko process's) was reused. */
  readonly owned: boolean;
  readonly pid: number | null;
  /**
   * Stop the server: SIGTERM (redis writes its AOF and exits), then SIGKILL after a grace period.
   * Safe to call twice. The shared embedded server (unix socket under DATA_DIR) is stopped only by
   * the last isw-ko process using it, whichever started it: with others still connected it is left
   * running for them; a process that reused it stops it (SHUTDOWN) when nobody else is left.
   */
  stop(): Promise<void>;
  /** SIGKILL, for crash tests. */
  kill(): void;
}

const INSTALL_HINT =
  'install it (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`), set REDIS_SERVER_BIN to its path, or set REDIS_URL to an existing Redis';

/**
 * Start a private redis-server for the embedded defaults and the tests: loopback only, AOF on
 * (so a restart loses no queued job), `noeviction` (BullMQ must never lose keys to eviction), no
 * RDB snapshots. With no port it listens on a unix socket under `dir`; a live server already on
 * that socket (started by another isw-ko process) is reused rather than started twice.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RunningRedis> {
  mkdirSync(options.dir, { recursive: true });
  const socket = options.port === undefined ? path.resolve(options.dir, 'redis.sock') : null;
  if (socket !== null && existsSync(socket)) {
    if (await answersPing({ path: socket })) {
      options.logger?.info({ socket }, 'reusing the embedded redis-server already running');
      return reused(socket, options.logger);
    }
    rmSync(socket, { force: true }); // stale socket of a server that died
  }
  const port = options.port === undefined ? 0 : options.port === 0 ? await freePort() : options.port;
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    path.resolve(options.dir),
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    '--protected-mode',
    'yes',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
  if (socket !== null) args.push('--unixsocket', socket, '--unixsocketperm', '700');
  const ownGroup = options.ownProcessGroup === true;
  const child = spawn(options.bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: ownGroup });
  const offExitHook = ownGroup ? stopOnExit(child) : () => undefined;
  await waitReady(child, options, socket !== null ? { path: socket } : { host: '127.0.0.1', port });
  options.logger?.info(
    { pid: child.pid, port: port === 0 ? null : port, socket },
    'embedded redis-server started',
  );
  let stopping: Promise<void> | null = null;
  return {
    url: port === 0 ? null : `redis://127.0.0.1:${port}`,
    socket,
    port: port === 0 ? null : port,
    owned: true,
    pid: child.pid ?? null,
    stop: () =>
      (stopping ??= (async () => {
        if (socket !== null && (await othersConnected({ path: socket }))) {
          offExitHook();
          leaveRunning(child);
          options.logger?.info(
            { socket },
            'embedded redis-server left running: another isw-ko process still uses it (the last one stops it)',
          );
          return;
        }
        await stopChild(child);
      })()),
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}

function reused(socket: string, logger: Logger | undefined): RunningRedis {
  let stopping: Promise<void> | null = null;
  return {
    url: null,
    socket,
    port: null,
    owned: false,
    pid: null,
    // Its starter may be gone (stopped while we ran, or killed): the last user out stops it.
    stop: () =>
      (stopping ??= (async () => {
        if (await othersConnected({ path: socket })) return;
        await shutdownServer({ path: socket });
        logger?.info({ socket }, 'embedded redis-server stopped (no other isw-ko process uses it)');
      })()),
    kill: () => undefined,
  };
}

/**
 * Whether clients other than our probe are connected: another isw-ko process's queues and
 * workers (they hold connections for as long as they run). Our own connections are closed before
 * `stop()`, but the server may list one for a moment after its QUIT, so a sighting is checked again.
 */
async function othersConnected(target: PingTarget): Promise<boolean> {
  for (let look = 0; look < 3; look += 1) {
    if ((await otherClientCount(target)) === 0) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
  return true;
}

async function otherClientCount(target: PingTarget): Promise<number> {
  const redis = probe(target);
  try {
    await redis.connect();
    const ownId = String(await redis.client('ID'));
    const list = String(await redis.client('LIST'));
    return list.split('\n').filter((line) => line.startsWith('id=') && !line.startsWith(`id=${ownId} `))
      .length;
  } catch {
    return 0; // not answering: nobody can be using it
  } finally {
    redis.disconnect();
  }
}

/** SHUTDOWN (AOF written) a server we did not start, and wait until it no longer answers. */
async function shutdownServer(target: PingTarget): Promise<void> {
  const redis = probe(target);
  try {
    await redis.connect();
    await redis.shutdown().catch(() => undefined); // the server closes the connection instead of replying
  } catch {
    return; // already gone
  } finally {
    redis.disconnect();
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await answersPing(target))) await new Promise((r) => setTimeout(r, 50));
}

/** A one-off connection that fails at once rather than retrying. */
function probe(target: PingTarget): Redis {
  return new Redis({
    ...('path' in target ? { path: target.path } : { host: target.host, port: target.port }),
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'isw-ko-probe',
  });
}

/** Let the server outlive this process: nothing of it keeps our event loop up. */
function leaveRunning(child: ChildProcess): void {
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.unref();
}

async function waitReady(
  child: ChildProcess,
  options: RedisServerOptions,
  target: PingTarget,
): Promise<void> {
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // Set from the child's callbacks; an object so the loop below re-reads it each time round.
  const state: { failure: AppError | null } = { failure: null };
  child.once('error', (err: NodeJS.ErrnoException) => {
    state.failure =
      err.code === 'ENOENT'
        ? new AppError(
            'REDIS_SERVER_MISSING',
            'user',
            `redis-server was not found (tried "${options.bin}")`,
            {
              hint: INSTALL_HINT,
              cause: err,
            },
          )
        : new AppError(
            'REDIS_SERVER_START',
            'operational',
            `redis-server could not be started: ${err.message}`,
            { cause: err },
          );
  });
  child.once('exit', (code) => {
    state.failure ??= new AppError(
      'REDIS_SERVER_START',
      'operational',
      `redis-server exited with code ${String(code)} before it was ready: ${output.trim()}`,
    );
  });
  // Poll with PING rather than reading the log: the ready line is not printed at loglevel warning.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (state.failure !== null) throw state.failure;
    if (await answersPing(target)) return;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new AppError(
        'REDIS_SERVER_START',
        'operational',
        `redis-server did not answer within ${timeoutMs} ms: ${output.trim()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * SIGTERM the child when this process exits (synchronously: `exit` listeners cannot wait).
 * Returns the function that takes the hook off again.
 */
function stopOnExit(child: ChildProcess): () => void {
  const onExit = (): void => {
    child.kill('SIGTERM');
  };
  const off = (): void => {
    process.off('exit', onExit);
  };
  process.once('exit', onExit);
  child.once('exit', off);
  return off;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  child.kill('SIGTERM');
  const grace = setTimeout(() => child.kill('SIGKILL'), 10_000);
  grace.unref();
  await exited;
  clearTimeout(grace);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** True when something on that address answers the Redis PING with PONG within a second. */
type PingTarget = { path: string } | { host: string; port: number };

export function answersPing(target: PingTarget): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host);
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
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      done(d.toString().startsWith('+PONG'));
    });
  });
}

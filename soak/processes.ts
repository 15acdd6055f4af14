// The soak's child processes: the bot (`isw-ko run`, `isw-ko worker …`) and a restartable
// redis-server, with their output in log files and their peak memory sampled from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { freePort, startRedisServer, type RunningRedis } from '../src/shared/redis-server.js';
import { REPO_ROOT } from '../tests/support/fixtures.js';

/** The CLI entry point the children run (`node bin/isw-ko.js …`, as `npm start` does). */
export const BIN = path.join(REPO_ROOT, 'bin', 'isw-ko.js');

/** Resident memory of a process from /proc/<pid>/status, in bytes: now and at its peak (VmHWM). */
export function memoryOf(pid: number): { rss: number; peak: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null; // gone (or not Linux): nothing to sample
  }
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
}

/** Keeps the highest peak seen per role, across restarts (a new process starts its VmHWM at 0). */
export class MemoryPeaks {
  private readonly peaks = new Map<string, number>();
  private readonly sources = new Map<string, () => number | null>();

  /** Sample `pid()` under `role` whenever {@link sample} runs. */
  watch(role: string, pid: () => number | null): void {
    this.sources.set(role, pid);
  }

  sample(): void {
    for (const [role, pid] of this.sources) {
      const p = pid();
      if (p === null) continue;
      const m = memoryOf(p);
      if (m !== null) this.peaks.set(role, Math.max(this.peaks.get(role) ?? 0, m.peak));
    }
  }

  /** Role → peak resident bytes. */
  snapshot(): Map<string, number> {
    this.sample();
    return new Map(this.peaks);
  }
}

/** Why a child's exit was expected: we killed or stopped it. */
type ExitReason = 'killed' | 'stopped';

/** How a bot process ended without being told to: a crash, for the verdict. */
export interface UnexpectedExit {
  readonly role: string;
  readonly code: number | null;
  readonly signal: string | null;
  /** The last lines of its log. */
  readonly tail: string;
}

export interface BotProcessOptions {
  /** `run`, `worker-a`…: names its log file and its row in the memory table. */
  readonly role: string;
  /** Arguments after `bin/isw-ko.js`. */
  readonly args: readonly string[];
  /** Environment variables on top of this process's (the harness's settings). */
  readonly env: Readonly<Record<string, string>>;
  /** Working directory and where `<role>.log` is written. */
  readonly dir: string;
  /** Told when the process exits by itself; the soak restarts it and counts a crash. */
  readonly onUnexpectedExit: (exit: UnexpectedExit) => void;
}

/**
 * One bot process, restartable. Its stdout and stderr go to `<dir>/<role>.log` (appended across
 * incarnations, each announced by a line), so the secrets check reads everything it ever wrote.
 */
export class BotProcess {
  readonly role: string;
  readonly logFile: string;
  private readonly o: BotProcessOptions;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private expected: ExitReason | null = null;
  private log: WriteStream;
  private ready: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private tail = '';
  /** How many times it was started. */
  starts = 0;

  constructor(options: BotProcessOptions) {
    this.o = options;
    this.role = options.role;
    this.logFile = path.join(options.dir, `${options.role}.log`);
    this.log = createWriteStream(this.logFile, { flags: 'a' });
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /**
   * Start it and wait until its pipeline runs ("pipeline started" in its log) or it dies.
   * `timeoutMs` bounds the wait (tsx compiles the sources at start: seconds on 2 cores).
   */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child !== null) return;
    this.starts += 1;
    this.expected = null;
    this.tail = '';
    this.log.write(`\n--- soak: start #${this.starts} of ${this.role} at ${new Date().toISOString()} ---\n`);
    const child = spawn(process.execPath, [BIN, ...this.o.args], {
      cwd: this.o.dir,
      env: { ...process.env, ...this.o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const ready = new Promise<void>((resolve, reject) => {
      this.ready = { resolve, reject };
    });
    const onData = (chunk: Buffer): void => {
      this.log.write(chunk);
      const text = chunk.toString('utf8');
      this.tail = (this.tail + text).slice(-2000);
      // The tail, not the chunk: the marker may straddle two chunks.
      if (this.ready !== null && this.tail.includes('"pipeline started"')) {
        this.ready.resolve();
        this.ready = null;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.log.write(
          `\n--- soak: ${this.role} exited (code ${String(code)}, signal ${String(signal)}) ---\n`,
        );
        this.child = null;
        const failure = new Error(`${this.role} exited before it was ready: ${this.tail.slice(-800)}`);
        this.ready?.reject(failure);
        this.ready = null;
        if (this.expected === null) {
          this.o.onUnexpectedExit({
            role: this.role,
            code,
            signal,
            tail: this.tail.split('\n').slice(-6).join('\n').slice(-800),
          });
        }
        resolve();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`${this.role} did not start within ${timeoutMs} ms: ${this.tail.slice(-800)}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL (a crash on purpose) and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.expected = 'killed';
    child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a graceful stop: current jobs finish), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.expected = 'stopped';
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Close the log file (after the last stop). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}

/** Run a one-shot `isw-ko` command (e.g. `jobs retry --all`) and return its exit code and output. */
export function runCommand(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  dir: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      resolve({ code, output });
    });
  });
}

/**
 * A private redis-server (AOF on, loopback) that can be restarted on the same port and data
 * directory, as an operator's restart would: the bot must reconnect by itself and find every job.
 */
export class RestartableRedis {
  private server: RunningRedis | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  static async start(dir: string, bin = 'redis-server'): Promise<RestartableRedis> {
    const redis = new RestartableRedis(dir, await freePort(), bin);
    await redis.up();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | null {
    return this.server?.pid ?? null;
  }

  /**
   * Stop with SIGTERM: redis-server fsyncs its AOF and exits, so every acknowledged write survives
   * (with `appendfsync everysec` a SIGKILL may lose the last second, a durability limit of Redis,
   * not of the bot).
   */
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    await server?.stop();
  }

  async up(): Promise<void> {
    if (this.server !== null) return;
    this.server = await startRedisServer({ bin: this.bin, dir: this.dir, port: this.port });
  }
}

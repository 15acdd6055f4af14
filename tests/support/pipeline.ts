// Test support: the whole app (real redis-server, real LLM test server, file board) in a temp dir.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadEnv, type Env } from '../../src/config/index.js';
import { startApp, type App, type AppOptions } from '../../src/cli/app.js';
import { createLogger, type Logger } from '../../src/shared/logger.js';
import { startLlmServer, type LlmServer } from './llm-server.js';
import { freshPrefix, startTestRedis, type TestRedis } from './redis.js';

export const TEST_API_KEY = 'sk-test-isw-ko-0123456789';

/** Everything one pipeline test needs, started fresh. */
export interface PipelineHarness {
  readonly dir: string;
  readonly redis: TestRedis;
  readonly llm: LlmServer;
  /** Environment variables for the app (and for a child `isw-ko` process). */
  readonly vars: Record<string, string>;
  readonly env: Env;
  /** Log lines written by in-process apps (JSON). */
  readonly logs: string[];
  start(options?: Partial<AppOptions>): Promise<App>;
  /** Posts the file board has written (its JSON records). */
  posts(): { key: string; title: string; html: string }[];
  /** How many post records the file board has (cheap: no file is read). */
  postCount(): number;
  close(): Promise<void>;
}

export async function startHarness(extra: Record<string, string> = {}): Promise<PipelineHarness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-e2e-'));
  const redis = await startTestRedis();
  const llm = await startLlmServer();
  const vars: Record<string, string> = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: freshPrefix('e2e'),
    DATA_DIR: path.join(dir, 'data'),
    INBOX_DIR: path.join(dir, 'inbox'),
    INBOX_POLL_MS: '200',
    OPENAI_BASE_URL: llm.url,
    OPENAI_API_KEY: TEST_API_KEY,
    LLM_MODEL: 'test-model',
    LLM_TIMEOUT_MS: '5000',
    BOARD_RESOLVE_LINKS: 'false',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    ...extra,
  };
  const env = loadEnv({ env: vars, envFile: null });
  const logs: string[] = [];
  const apps: App[] = [];
  const logger = (): Logger =>
    createLogger(
      { level: 'debug', format: 'json', secrets: [TEST_API_KEY] },
      new Writable({
        write(chunk: Buffer, _e, cb) {
          logs.push(
            ...chunk
              .toString()
              .split('\n')
              .filter((l) => l.length > 0),
          );
          cb();
        },
      }),
    );
  return {
    dir,
    redis,
    llm,
    vars,
    env,
    logs,
    start: async (options = {}) => {
      const app = await startApp(env, {
        workers: ['ingest', 'summarize', 'publish'],
        inbox: false,
        logger: logger(),
        backoffScale: 0.005,
        ...options,
      });
      apps.push(app);
      return app;
    },
    posts: () => {
      const postsDir = path.join(env.DATA_DIR, 'board', 'posts');
      let names: string[];
      try {
        names = readdirSync(postsDir).filter((n) => n.endsWith('.json'));
      } catch {
        return []; // no post written yet: the folder appears with the first one
      }
      return names.map((n) => {
        const record = JSON.parse(readFileSync(path.join(postsDir, n), 'utf8')) as {
          post: { key: string; title: string; html: string };
        };
        return record.post;
      });
    },
    postCount: () => {
      try {
        return readdirSync(path.join(env.DATA_DIR, 'board', 'posts')).filter((n) => n.endsWith('.json'))
          .length;
      } catch {
        return 0; // no post written yet: the folder appears with the first one
      }
    },
    close: async () => {
      for (const app of apps) await app.close();
      await llm.close();
      await redis.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Poll `check` every 50 ms until it returns a value other than undefined/false, or fail after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  ms = 20_000,
): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

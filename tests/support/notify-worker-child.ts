// Test and bench support: the notify workers in a child process (`node --import tsx <this file>`),
// so a test can SIGKILL them half-way through a digest and start another. Configured by
// environment variables; talks to its parent over IPC:
//   → { type: 'ready' } once the workers run;
//   ← { type: 'rss' }  → { type: 'rss', maxRssBytes, rssBytes, memory } (peak resident memory so far);
//   ← { type: 'close' } closes the workers and exits 0.
import { Redis } from 'ioredis';
import { startNotifyWorkers, storeDigestSource } from '../../src/queue/notify-worker.js';
import { Store } from '../../src/queue/store.js';
import { quietLogger, testSettings } from './notify-fixtures.js';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`notify-worker-child needs ${name}`);
  return value;
}

const redisUrl = required('NOTIFY_CHILD_REDIS_URL');
const prefix = required('NOTIFY_CHILD_PREFIX');
const smtpUrl = required('NOTIFY_CHILD_SMTP_URL');
const number = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
const notify = await startNotifyWorkers({
  redis: { url: redisUrl },
  prefix,
  logger: quietLogger(),
  settings: testSettings({
    smtpUrl,
    poolSize: number('NOTIFY_CHILD_POOL', 4),
    ratePerSecond: number('NOTIFY_CHILD_RATE', 0),
  }),
  source: storeDigestSource(new Store(redis, prefix), ['file']),
  workers: { fanOut: true, send: true },
  sendConcurrency: number('NOTIFY_CHILD_CONCURRENCY', 16),
  lockDurationMs: number('NOTIFY_CHILD_LOCK_MS', 2000),
  stalledIntervalMs: number('NOTIFY_CHILD_STALLED_MS', 500),
  fanOutPageSize: number('NOTIFY_CHILD_PAGE', 500),
  backoffScale: 0.001,
});

const close = async (): Promise<void> => {
  await notify.close();
  await redis.quit();
  process.exit(0);
};

process.on('message', (message: { type?: string }) => {
  if (message.type === 'rss') {
    process.send?.({
      type: 'rss',
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      rssBytes: process.memoryUsage().rss,
      memory: process.memoryUsage(),
    });
  } else if (message.type === 'close') {
    void close();
  }
});
process.on('SIGTERM', () => {
  void close();
});
process.send?.({ type: 'ready' });

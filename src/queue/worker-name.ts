import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * A name for one process's BullMQ workers: host, pid and a random part (valid in a Redis client
 * name). BullMQ stores it on every job a worker takes (`processedBy`) and in the name of the
 * worker's connection, so the admin pages can tell an active job whose process is gone (a forced
 * exit, a kill) from one that runs. Random, so a restarted process is not taken for the dead one.
 */
export function uniqueWorkerName(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9.-]/g, '_')
    .slice(0, 40);
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

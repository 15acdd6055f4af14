import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests start real services (redis-server, Dovecot, SMTP); give them room on 2 cores.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // An unhandled rejection anywhere fails the run (vitest's default, stated so nobody flips it).
    dangerouslyIgnoreUnhandledErrors: false,
    reporters: ['default', 'json'],
    outputFile: { json: 'tests/output/results.json' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['tests/unit/**/*.test.ts'] } },
      {
        extends: true,
        // Real services and child processes: one file at a time so timings stay sane on 2 cores.
        test: { name: 'integration', include: ['tests/integration/**/*.test.ts'], fileParallelism: false },
      },
    ],
  },
});

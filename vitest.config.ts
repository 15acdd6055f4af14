import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Integration tests start real services (redis-server, Dovecot, SMTP); give them room on 2 cores.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // An unhandled rejection anywhere fails the run (vitest default), never silently ignored.
    dangerouslyIgnoreUnhandledErrors: false,
    outputFile: { junit: 'tests/output/junit.xml' },
  },
});

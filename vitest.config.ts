import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Every test lives under test/, by area (infra, lambda, services, e2e, support).
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-redis.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

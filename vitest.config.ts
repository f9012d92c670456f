import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Every test lives under test/, by area (infra, lambda, services, e2e, support).
    include: ['test/**/*.test.ts'],
    // The scratch folder first, so it is set before the Redis harness starts and removed last.
    globalSetup: ['test/support/global-tmpdir.ts', 'test/support/global-redis.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

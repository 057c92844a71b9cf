import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The browser suite runs on its own: npm run test:e2e (vitest.e2e.config.ts).
    exclude: ['tests/e2e/**', '**/node_modules/**'],
    // Server-process tests run what `npm start` runs: the bundle, built fresh from src/ here.
    globalSetup: ['tests/support/build.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // A test that forgets to close a server should fail loudly, not hang CI.
    teardownTimeout: 20_000,
    // npm run coverage: what the suite runs of src/ in its own processes (servers started as child
    // processes from the bundle are not counted).
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'text'],
      // The floor the suite must keep (CI runs `npm run coverage` once, on PGlite).
      thresholds: { lines: 80 },
    },
  },
});

import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { include: ['.scratch/**/*.test.ts'], pool: 'forks', testTimeout: 120000, hookTimeout: 60000 } });

// `npm run build`: bundles the service's own TypeScript (src/) into dist/src/*.mjs with esbuild,
// and compiles the migrations to dist/migrations/*.js (the bundle runs them without tsx).
// Dependencies stay in node_modules (not bundled). The output keeps src/'s depth, so paths that
// modules compute from import.meta.url (migrations/, seeders/) resolve the same from dist/src/.
// Running the bundle instead of the sources through tsx saves start-up time and memory.
import { readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });

await build({
  entryPoints: ['src/main.ts', 'src/worker.ts'],
  outbase: '.',
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});

// One file per migration, same names (MikroORM records a migration by its file name without the
// extension, so Migration<timestamp>_x.ts and .js are the same migration).
await build({
  entryPoints: readdirSync('migrations')
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => `migrations/${f}`),
  outdir: 'dist/migrations',
  bundle: false,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});

// `npm run build`: bundles the service's own TypeScript (src/) into dist/src/{main,worker}.cjs with
// esbuild, and compiles the migrations to dist/migrations/*.js (the bundle runs them without tsx).
//
// Why a CommonJS bundle: most dependencies (MikroORM, knex, pg, pino, uWebSockets.js) are CommonJS.
// Loaded from an ES module, Node scans every one of those files for its exports first; required
// from CommonJS it does not. Measured with `npm run bench:cold`: first 200 after ~0.57 s instead of
// ~1.1 s for an ESM bundle (and ~2.5 s through tsx).
//
// Dependencies stay in node_modules (not bundled), except superjson and its two helpers: they are
// ES-module-only, which CommonJS can only require on Node >= 20.19. The output keeps src/'s depth,
// so paths that modules compute from import.meta.url (migrations/, seeders/) resolve the same.
import { readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const INLINE = new Set(['superjson', 'copy-anything', 'is-what']);
const packageName = (path) => (path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0]);

rmSync('dist', { recursive: true, force: true });

await build({
  entryPoints: ['src/main.ts', 'src/worker.ts'],
  outbase: '.',
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // import.meta.url has no CommonJS equivalent: give it the bundle's own file URL.
  define: { 'import.meta.url': '__bundle_url' },
  banner: { js: 'const __bundle_url = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [
    {
      name: 'dependencies-stay-external',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, ({ path }) =>
          path.startsWith('node:') || INLINE.has(packageName(path)) ? undefined : { path, external: true },
        );
      },
    },
  ],
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

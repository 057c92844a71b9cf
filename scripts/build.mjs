// `npm run build`: bundles the service's own TypeScript (src/) into dist/src/{main,worker}.cjs with
// esbuild, and compiles the migrations to dist/migrations/*.js (the bundle runs them without tsx).
//
// Why a CommonJS bundle: most dependencies (MikroORM, knex, pg, pino, uWebSockets.js) are CommonJS.
// Loaded from an ES module, Node scans every one of those files for its exports first; required
// from CommonJS it does not. Measured with `npm run bench:cold` when this was chosen: first 200
// after about half the time of an ESM bundle (and a quarter of tsx's).
//
// Dependencies stay in node_modules (not bundled), except:
// - superjson and its two helpers: ES-module-only, which CommonJS can only require on Node >= 20.19;
// - trpc-to-openapi, from its ES modules, keeping only what the service uses: its index loads
//   every framework adapter and co-body (request-stream parsing the service never needs), a
//   tenth of the start-up time. zod and @trpc/server stay external, so it shares their instances.
// The output keeps src/'s depth, so paths that modules compute from import.meta.url (migrations/,
// seeders/) resolve the same.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build } from 'esbuild';

const INLINE = new Set(['superjson', 'copy-anything', 'is-what', 'trpc-to-openapi']);
const packageName = (path) => (path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0]);

const main = await build({
  write: false,
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
      name: 'trpc-to-openapi-only-what-is-used',
      setup(b) {
        const fromOpenapi = (importer) => importer.includes('/node_modules/trpc-to-openapi/');
        // Its ES modules have no side effects: the adapters for other frameworks (and what they
        // import, h3 for Nuxt...) and the OpenApiBuilder re-export are left out.
        b.onResolve({ filter: /^\./ }, ({ importer }) => (fromOpenapi(importer) ? { sideEffects: false } : undefined));
        // co-body reads a request stream; ours arrive with their body parsed, so it is loaded only
        // if ever called (it is a fifth of trpc-to-openapi's start-up time).
        b.onResolve({ filter: /^co-body$/ }, ({ importer }) =>
          fromOpenapi(importer) ? { path: 'co-body', namespace: 'lazy' } : undefined,
        );
        b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
          // Resolved from trpc-to-openapi's folder, as its own import would be.
          contents:
            'const { createRequire } = require("node:module");\n' +
            'const from = ["trpc-to-openapi"];\n' +
            'module.exports = function coBody(...args) {\n' +
            '  return createRequire(require.resolve(from[0]))("co-body")(...args);\n' +
            '};',
          loader: 'js',
          resolveDir: process.cwd(),
        }));
      },
    },
    {
      name: 'dependencies-stay-external',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, ({ path, importer }) =>
          path.startsWith('node:') || INLINE.has(packageName(path))
            ? undefined
            : { path, external: true, ...(importer.includes('/node_modules/trpc-to-openapi/') ? { sideEffects: false } : {}) },
        );
      },
    },
  ],
});

// One file per migration, same names (MikroORM records a migration by its file name without the
// extension, so Migration<timestamp>_x.ts and .js are the same migration).
const migrations = await build({
  write: false,
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

// A running service reads dist/ (worker threads load worker.cjs, migrations load at start): a
// second `npm start` or a test run must not pull it from under it. So a file is written only when
// its content changed, and replaced in one rename; files no longer produced are removed.
const produced = new Set();
for (const file of [...main.outputFiles, ...migrations.outputFiles]) {
  produced.add(file.path);
  if (existsSync(file.path) && readFileSync(file.path).equals(Buffer.from(file.contents))) continue;
  mkdirSync(dirname(file.path), { recursive: true });
  const temp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temp, file.contents);
  renameSync(temp, file.path);
}
const removeStale = (dir) => {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(process.cwd(), dir, entry.name);
    if (entry.isDirectory()) removeStale(relative(process.cwd(), path));
    else if (!produced.has(path) && !entry.name.endsWith('.tmp')) rmSync(path);
  }
};
removeStale('dist');

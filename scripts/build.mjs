// `npm run build`: bundles the service's own TypeScript (src/) into dist/src/*.mjs with esbuild.
// Dependencies stay in node_modules (not bundled). The output keeps src/'s depth, so paths that
// modules compute from import.meta.url (migrations/, seeders/) resolve the same from dist/src/.
// Running the bundle instead of the sources through tsx saves start-up time and memory.
import { build } from 'esbuild';

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

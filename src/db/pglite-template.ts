import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * A compressed, freshly initialised PGlite data directory, made once per install
 * (`npm install` runs scripts/make-pglite-template.ts). Unpacking it takes well under a second;
 * initdb in WASM takes about 3 s on a 2-core machine. Without it, PGlite just runs initdb.
 */
export function templatePath(): string {
  const require = createRequire(import.meta.url);
  const pkgRoot = dirname(dirname(require.resolve('@electric-sql/pglite')));
  const { version } = JSON.parse(readFileSync(join(pkgRoot, 'package.json'), 'utf8')) as { version: string };
  return join(pkgRoot, '..', '..', '.cache', 'health-management-api', `pglite-${version}-datadir.tgz`);
}

export function loadTemplate(): Blob | undefined {
  const path = templatePath();
  return existsSync(path) ? new Blob([readFileSync(path)]) : undefined;
}

export async function writeTemplate(): Promise<string> {
  const target = templatePath();
  const { PGlite } = await import('@electric-sql/pglite');
  const db = new PGlite('memory://');
  await db.waitReady;
  const dump = await db.dumpDataDir('gzip');
  await db.close();
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(`${target}.tmp`, Buffer.from(await dump.arrayBuffer()));
  renameSync(`${target}.tmp`, target);
  return target;
}

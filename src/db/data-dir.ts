import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { StartupError } from './startup-error.ts';

/**
 * The embedded database's directory: private to the service's user, and never half-made.
 *
 * - Everything PGlite writes is created without group/other permissions (umask 077 for the
 *   process: the files, the WAL included, hold patient data in clear). DATA_DIR itself is 0700.
 *   A directory left readable by an older version is tightened; one that others can *write* is
 *   refused (someone else could have replaced files in it).
 * - The first start is atomic: the database is created, migrated and seeded in `<DATA_DIR>.new`,
 *   and renamed to DATA_DIR only when all of it worked. A first start that fails (a broken
 *   DB_JSON, a kill) leaves no DATA_DIR, so the next start does the whole first start again.
 */
export interface DataDir {
  /** Absolute path. */
  path: string;
  /** A database is already there. */
  exists: boolean;
}

const PRIVATE = 0o700;
const GROUP_OTHER = 0o077;
const GROUP_OTHER_WRITE = 0o022;

export function prepareDataDir(dataDir: string): DataDir {
  // Worker threads cannot change the umask; only the main thread opens the embedded database.
  if (isMainThread) process.umask(GROUP_OTHER);
  const path = resolve(dataDir);
  mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(path)) return { path, exists: false };
  const stat = statSync(path);
  if (!stat.isDirectory()) throw new StartupError(`DATA_DIR ${dataDir} is not a directory.`);
  if ((stat.mode & GROUP_OTHER_WRITE) !== 0) {
    throw new StartupError(
      `DATA_DIR ${dataDir} is writable by group or others (mode ${(stat.mode & 0o777).toString(8)}): refusing to use it. ` +
        `Check its contents, then run \`chmod -R go-rwx ${dataDir}\`.`,
    );
  }
  if ((stat.mode & GROUP_OTHER) !== 0) makePrivate(path);
  if (existsSync(join(path, 'PG_VERSION'))) return { path, exists: true };
  if (readdirSync(path).length > 0) {
    throw new StartupError(
      `DATA_DIR ${dataDir} is not empty and holds no database: refusing to create one among other files. Set DATA_DIR to a new or empty directory.`,
    );
  }
  return { path, exists: false };
}

/**
 * Builds a new database directory with `build(tempPath)` and moves it into place in one rename.
 * Whatever `build` throws leaves nothing behind.
 */
export async function createDataDir(path: string, build: (tempPath: string) => Promise<void>): Promise<void> {
  const temp = `${path}.new`;
  // A leftover of a first start that was killed half-way (the lock is ours, nobody else uses it).
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { mode: PRIVATE });
  try {
    await build(temp);
    if (existsSync(path)) rmdirSync(path); // empty (checked by prepareDataDir)
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Removes group and other permissions from a directory tree: one made by an older version, and
 * the few files PGlite writes through C stdio, which its file system layer chmods to 0644
 * whatever the umask (pg_internal.init at start, statistics at close; no patient data in them).
 */
export function makePrivate(path: string) {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if ((stat.mode & GROUP_OTHER) !== 0) chmodSync(path, stat.mode & 0o777 & ~GROUP_OTHER);
  if (stat.isDirectory()) for (const name of readdirSync(path)) makePrivate(join(path, name));
}

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { StartupError } from './startup-error.ts';

/**
 * One process at a time per embedded data directory.
 *
 * Two PGlite instances over the same files each believe they own them: both answer, ids repeat,
 * and one's writes overwrite the other's (acknowledged writes lost). So a start takes
 * `<DATA_DIR>.lock` before it opens anything, and holds it for the life of the process.
 *
 * - The lock file appears whole or not at all: it is written under a private name, then
 *   hard-linked to its final name, which fails if a lock is already there.
 * - It says who holds it: pid, host, and the process' start time (so a pid reused by an
 *   unrelated process after a `kill -9` does not look like the holder).
 * - A lock whose holder is gone (killed, crashed) is taken over on the next start: it is first
 *   moved aside and checked to be the very lock judged stale, so two starts racing for a stale
 *   lock cannot both win.
 */
export interface DataDirLock {
  readonly path: string;
  /** Removes the lock if it is still ours. */
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
  /** Kernel boot id and process start time in clock ticks (Linux), '' elsewhere. */
  started: string;
  token: string;
}

/** Another live process holds the data directory. */
export class DataDirLockedError extends StartupError {
  override name = 'DataDirLockedError';
  constructor(
    dataDir: string,
    readonly holder: { pid: number; host: string },
  ) {
    const where = holder.host === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on host ${holder.host}`;
    super(
      `DATA_DIR ${dataDir} is in use by another process (${where}): only one process may open an embedded database. Stop that process, or set another DATA_DIR.`,
    );
  }
}

export function lockPathFor(dataDirPath: string): string {
  return `${dataDirPath}.lock`;
}

/** Takes the lock of `dataDirPath` (an absolute path) or throws DataDirLockedError. */
export function acquireDataDirLock(dataDirPath: string, shownAs = dataDirPath): DataDirLock {
  const path = lockPathFor(dataDirPath);
  const me: Holder = { pid: process.pid, host: hostname(), started: startMark(process.pid), token: randomBytes(12).toString('hex') };
  const draft = `${path}.${me.token}.tmp`;
  writeDurably(draft, JSON.stringify(me));
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        linkSync(draft, path);
        return {
          path,
          release: () => {
            if (readHolder(path)?.token !== me.token) return;
            try {
              unlinkSync(path);
            } catch {
              // already gone
            }
          },
        };
      } catch (error) {
        if (code(error) !== 'EEXIST') throw error;
      }
      const holder = readHolder(path);
      if (holder && isAlive(holder)) throw new DataDirLockedError(shownAs, holder);
      removeIfStill(path, holder);
    }
    throw new StartupError(`Could not take the lock of DATA_DIR ${shownAs} (${path}): another start keeps replacing it.`);
  } finally {
    try {
      unlinkSync(draft);
    } catch {
      // already gone
    }
  }
}

/**
 * Moves a stale lock out of the way, but only the one judged stale: if another start replaced
 * it meanwhile, its lock is put back.
 */
function removeIfStill(path: string, stale: Holder | undefined) {
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (code(error) === 'ENOENT') return;
    throw error;
  }
  if (stale !== undefined && readHolder(aside)?.token !== stale.token) {
    try {
      linkSync(aside, path);
    } catch {
      // a third start took the lock meanwhile; its own check decides
    }
  }
  unlinkSync(aside);
}

function readHolder(path: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.token !== 'string') return undefined;
    return { pid: parsed.pid, host: String(parsed.host ?? ''), started: String(parsed.started ?? ''), token: parsed.token };
  } catch {
    // Unreadable or not ours: cannot be a live holder's (its lock appears whole, see above).
    return undefined;
  }
}

function isAlive(holder: Holder): boolean {
  // A process on another machine (a shared volume) cannot be checked: it counts as alive.
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if (code(error) !== 'EPERM') return false;
  }
  // The pid is in use, but maybe by a process started after the holder died (pid reuse).
  const started = startMark(holder.pid);
  return started === '' || holder.started === '' || started === holder.started;
}

/** When process `pid` started, from /proc (Linux); '' where that cannot be read. */
function startMark(pid: number): string {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${boot}:${fields[19] ?? ''}`;
  } catch {
    return '';
  }
}

function writeDurably(path: string, text: string) {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const code = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

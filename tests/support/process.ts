import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment for a child: this one without anything that would change the service's config. */
export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  // npm/npx (e.g. `npx -p node@24`) leave npm_config_* behind; they would confuse a nested npm.
  for (const key of Object.keys(base)) if (key.startsWith('npm_')) delete base[key];
  // npm run sets NODE_OPTIONS=--import=tsx (.npmrc, for the MikroORM CLI); the server must run
  // without it, as in production.
  delete base.NODE_OPTIONS;
  for (const key of [
    'DATABASE_URL',
    'DATABASE_CA_CERT',
    'PORT',
    'HOST',
    'DATA_DIR',
    'DB_JSON',
    'SEED_DRY_RUN',
    'MIGRATE_ON_START',
    'LOG_LEVEL',
  ])
    delete base[key];
  return { ...base, ...env };
}

/** Runs a command from the project root to completion. */
export function run(command: string, args: string[], env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The MikroORM CLI as `npx mikro-orm ...` runs it (node with tsx loaded, see .npmrc), started with
 * this test's own node binary so the suite exercises the Node version it runs on.
 */
export const mikroOrm = (args: string[], env: Record<string, string | undefined>) =>
  run(process.execPath, ['--import', 'tsx', 'node_modules/@mikro-orm/cli/cli', ...args], env);

export interface ServerProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the port once the server logs that it listens; rejects if it exits first. */
  listening: Promise<number>;
  exited: Promise<number | null>;
}

/**
 * Starts the server as `npm start` does, from the bundle (dist/src/main.cjs, built by the test
 * setup), as one node process (no npm/npx in between, so signals reach it). Request coalescing is
 * off unless `env` sets COALESCE_READS (see startTestApp).
 */
export function startServerProcess(env: Record<string, string | undefined>): ServerProcess {
  const child = spawn(process.execPath, ['dist/src/main.cjs'], {
    cwd: ROOT,
    env: childEnv({ PORT: '0', COALESCE_READS: 'false', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = new Promise<number>((resolve, reject) => {
    // Ready when the single process logs "listening", or the primary of a cluster "cluster listening".
    const onData = (c: Buffer) => {
      out += c.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('listening')) continue;
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number; worker?: number };
          if ((entry.msg === 'listening' && entry.worker === undefined) || entry.msg === 'cluster listening') resolve(Number(entry.port));
        } catch {
          // not a complete JSON line yet
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${out}`)));
  });
  listening.catch(() => undefined);
  return { child, output: () => out, listening, exited };
}

/**
 * `fetch` of a path on a server process. A request that cannot connect fails with what the
 * process wrote and how it ended (a flaky "connection refused" then says why).
 */
export async function fetchFrom(server: ServerProcess, port: number, path: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(`http://127.0.0.1:${port}${path}`, init);
  } catch (error) {
    const code = server.child.exitCode ?? server.child.signalCode ?? 'running';
    throw new Error(`${init?.method ?? 'GET'} ${path} on port ${port} failed (server: ${code}):\n${server.output().slice(-4000)}`, {
      cause: error,
    });
  }
}

/** The messages of the fatal log lines a server process wrote (a refused or failed start). */
export function fatalMessages(server: ServerProcess): string[] {
  return server
    .output()
    .split('\n')
    .filter((l) => l.includes('"level":"fatal"'))
    .map((l) => (JSON.parse(l) as { msg: string }).msg);
}

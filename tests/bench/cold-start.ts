/**
 * `npm run bench:cold`: cold start of the built service (`node dist/src/main.cjs`, what `npm start`
 * runs after its build) on a PostgreSQL server: from spawning the process to the first 200 on
 * /health, 7 runs each for WORKERS=1 and WORKERS=2; prints min / median / max and the resident
 * memory right after that first answer.
 *
 * Env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres; a database
 * hm_cold_<pid> is created there, migrated, and dropped at the end). Not a test.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { freePort } from '../../src/net.ts';
import { ROOT } from '../support/process.ts';

const RUNS = 7;
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const dbName = `hm_cold_${process.pid}`;
const dbUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();

async function admin(sql: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function once(workers: number): Promise<{ ms: number; rssMb: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, ['dist/src/main.cjs'], {
    cwd: ROOT,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: dbUrl, PORT: String(port), WORKERS: String(workers) },
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - started;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    return { ms, rssMb: rss };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
}

execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
await admin(`drop database if exists ${dbName}`);
await admin(`create database ${dbName}`);
try {
  execFileSync(process.execPath, ['--import', 'tsx', 'node_modules/@mikro-orm/cli/cli', 'migration:up'], {
    cwd: ROOT,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: dbUrl },
  });
  await once(1); // warm the file system cache, not measured
  for (const workers of [1, 2]) {
    const runs: { ms: number; rssMb: number }[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await once(workers));
    const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
    const rss = runs.map((r) => r.rssMb).sort((a, b) => a - b);
    console.log(
      `WORKERS=${workers}: first 200 after ${ms[0]!.toFixed(0)} / ${ms[RUNS >> 1]!.toFixed(0)} / ${ms[RUNS - 1]!.toFixed(0)} ms (min / median / max of ${RUNS}), RSS then ${rss[RUNS >> 1]!.toFixed(0)} MB`,
    );
  }
} finally {
  await admin(`drop database if exists ${dbName} with (force)`);
}

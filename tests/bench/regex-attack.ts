/**
 * `npm run bench:attack`: how `GET /health` answers while clients hammer `_like` filters with the
 * dearest regular expressions the service still accepts (and with rejected ones). Starts the
 * service as its own process (`node --import tsx src/main.ts`, so the load generator does not
 * share its thread) on an embedded PGlite in a temporary directory, or on DATABASE_URL when set
 * (a disposable database: the patients table is emptied and refilled). Fills it with one patient
 * whose medicalCondition is 130 × "a" + "c" and 1,000 ordinary ones, then for each scenario lets
 * CLIENTS clients send requests back to back for SECONDS seconds while one more client asks for
 * /health every 20 ms, and prints the /health latency (p50 / p99 / max) and what the attackers got.
 *
 *   node --import tsx tests/bench/regex-attack.ts
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hm_attack node --import tsx tests/bench/regex-attack.ts
 *
 * Env: BENCH_CLIENTS (10), BENCH_SECONDS (4), BENCH_ROWS (1000), BENCH_ONLY (scenario names).
 * Every attacking request is a different URL (so identical GETs cannot share one execution) and
 * the patterns rotate through variants (so PostgreSQL's per-connection cache of compiled
 * expressions does not help).
 * Not a test: it reports what it measured and asserts nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { freePort } from '../../src/net.ts';
import { patients } from '../../src/patients/patient.fields.ts';
import { childEnv, ROOT } from '../support/process.ts';
import { RESET_TABLES } from '../support/reset.ts';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROWS = Number(process.env.BENCH_ROWS ?? 1000);
const databaseUrl = process.env.DATABASE_URL || undefined;
/** Only the scenarios whose names contain one of these (comma-separated), e.g. `BENCH_ONLY=repro`. */
const only = process.env.BENCH_ONLY?.split(',');

/** Variants of a pattern that cost the same: `@` becomes one of these letters (none occurs in the conditions). */
const LETTERS = 'fjqvwxz';
const variant = (template: string, n: number) => template.replaceAll('@', LETTERS[n % LETTERS.length] as string);

/**
 * The dearest accepted patterns found, by hand and by a random search over generated patterns
 * timed on both databases: long runs of classes, chains of `.*`, optional pieces repeated up to
 * the budget, case-folded ranges, and the longest literals. Each is within MAX_LIKE_COST with
 * `@` as one letter.
 */
const EXPENSIVE = [
  '.{66}@',
  '\\w{66}@',
  '((x|(.){60}))?[^b][^b]x@',
  '.*.*.*.*.*.*.*.*.*.*.*.*.*.*@',
  '(\\w){10}((aa)+(c){49})?@',
  '(c){57}((aa){17,})+aa@',
  '[一-龥][一-龥]@',
  '(hyper){19}@',
  '([^b]){0,13}@',
  'hypertension chronic kidney disease type two diabetes migraine asthma arthritis hyperthyroidism @',
  `${'a'.repeat(99)}@`,
];
const ORDINARY = ['^hyp@', 'asthma|@', 'diab', '\\bmig', '[ab]c$', 'a.*@', '(x|@)', 'a{2,3}@'];
const REPRO = '^(a*)(a*)(a*)(a*)(a*)\\1\\2\\3\\4\\5c$';

interface Scenario {
  name: string;
  /** The path of the n-th attacking request (none: /health alone). */
  path?: (n: number) => string;
}
const pick = (list: string[], n: number) => variant(list[n % list.length] as string, Math.floor(n / list.length));
const SCENARIOS: Scenario[] = [
  { name: 'no attack' },
  { name: 'ordinary patterns', path: (n) => `/patients?medicalCondition_like=${encodeURIComponent(pick(ORDINARY, n))}&_=${n}` },
  { name: 'dearest accepted', path: (n) => `/patients?medicalCondition_like=${encodeURIComponent(pick(EXPENSIVE, n))}&_=${n}` },
  {
    name: 'dearest accepted, on all 7 fields',
    path: (n) => `/patients?${patients.names.map((f, i) => `${f}_like=${encodeURIComponent(pick(EXPENSIVE, n + i))}`).join('&')}&_=${n}`,
  },
  { name: 'the repro (back-references)', path: (n) => `/patients?medicalCondition_like=${encodeURIComponent(REPRO)}&_=${n}` },
];

const dataDir = mkdtempSync(join(tmpdir(), 'bench-attack-'));
writeFileSync(join(dataDir, 'db.json'), JSON.stringify({ patients: [] }));
if (databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  // Migrated by the service itself (MIGRATE_ON_START) if the table is not there yet.
  await client.query(RESET_TABLES).catch(() => undefined);
  await client.end();
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  cwd: ROOT,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: childEnv({
    PORT: String(port),
    LOG_LEVEL: 'warn',
    ...(databaseUrl
      ? { DATABASE_URL: databaseUrl, MIGRATE_ON_START: 'true' }
      : { DATA_DIR: join(dataDir, 'data'), DB_JSON: join(dataDir, 'db.json') }),
  }),
});

try {
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) throw new Error(`the service exited with ${server.exitCode}`);
    if (
      await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 600) throw new Error('the service did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  if (databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(RESET_TABLES);
    await client.end();
  }
  await fill();
  console.log(
    `${databaseUrl ? 'PostgreSQL server' : 'embedded PGlite'}, ${ROWS + 1} patients, ${CLIENTS} attacking clients, ${SECONDS} s per scenario; load average ${loadavg()[0]?.toFixed(1)}`,
  );
  console.log(
    `${'scenario'.padEnd(36)} ${'/health p50'.padStart(11)} ${'p99'.padStart(8)} ${'max'.padStart(8)} ${'n'.padStart(5)}   attacking requests`,
  );
  for (const scenario of SCENARIOS.filter((s) => !only || only.some((o) => s.name.includes(o)))) await measure(scenario);
  // The numbers mean little on a machine busy with something else.
  console.log(`load average (1 min) at the end: ${loadavg()[0]?.toFixed(1)} on this machine`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => (server.exitCode !== null || server.signalCode !== null ? r(null) : server.once('exit', r)));
  rmSync(dataDir, { recursive: true, force: true });
}

async function fill() {
  const conditions = ['Hypertension', 'Asthma', 'Type 2 Diabetes', 'Migraine', 'Hyperthyroidism', 'Chronic Kidney Disease', 'Arthritis'];
  const patient = (i: number) => ({
    patientID: `A${String(i).padStart(5, '0')}`,
    name: `Patient ${i}`,
    age: i % 100,
    gender: ['Male', 'Female', 'Other'][i % 3],
    medicalCondition: i === 0 ? `${'a'.repeat(130)}c` : conditions[i % conditions.length],
    lastVisit: '2024-01-15',
  });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i <= ROWS; i = next++) {
      const res = await fetch(`${base}/patients`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(patient(i)),
      });
      if (res.status !== 201) throw new Error(`create: ${res.status}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function measure(scenario: Scenario) {
  const until = performance.now() + SECONDS * 1000;
  const statuses = new Map<number, number>();
  const attackMs: number[] = [];
  let n = 0;
  const attacker = async () => {
    while (scenario.path && performance.now() < until) {
      const started = performance.now();
      const res = await fetch(base + scenario.path(n++)).catch(() => undefined);
      await res?.arrayBuffer();
      attackMs.push(performance.now() - started);
      statuses.set(res?.status ?? 0, (statuses.get(res?.status ?? 0) ?? 0) + 1);
    }
  };
  const healthMs: number[] = [];
  const prober = async () => {
    // Let the attack get going first.
    await new Promise((r) => setTimeout(r, 200));
    while (performance.now() < until) {
      const started = performance.now();
      const res = await fetch(`${base}/health`);
      await res.arrayBuffer();
      healthMs.push(performance.now() - started);
      if (res.status !== 200) statuses.set(-res.status, (statuses.get(-res.status) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all([prober(), ...Array.from({ length: CLIENTS }, attacker)]);
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
  const ms = (x: number) => `${x.toFixed(1)} ms`.padStart(8);
  const got = [...statuses].map(([status, count]) => (status < 0 ? `/health ${-status}: ${count}` : `${status}: ${count}`)).join(', ');
  const attack = attackMs.length ? `${got} (each ${pct(attackMs, 50).toFixed(0)} ms p50, ${pct(attackMs, 99).toFixed(0)} ms p99)` : '-';
  console.log(
    `${scenario.name.padEnd(36)} ${ms(pct(healthMs, 50)).padStart(11)} ${ms(pct(healthMs, 99))} ${ms(Math.max(...healthMs))} ${String(healthMs.length).padStart(5)}   ${attack}`,
  );
}

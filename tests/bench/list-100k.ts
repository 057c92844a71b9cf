/**
 * `npm run bench:list`: latency of list queries on 100,000 patients through the whole stack
 * (HTTP -> uWS -> trpc-to-openapi -> SQL). Uses DATABASE_URL's server when set (the database must be
 * empty or disposable: the table is refilled), otherwise an in-memory embedded PGlite.
 * Not a test: it only reports what it measured.
 */
import { performance } from 'node:perf_hooks';
import { startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { servePglite } from '../support/pglite-server.ts';
import { RESET_TABLES } from '../support/reset.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 200);

const embedded = process.env.DATABASE_URL ? undefined : await servePglite(8);
const config = parseConfig({
  PORT: '0',
  DATABASE_URL: process.env.DATABASE_URL ?? embedded!.url,
  MIGRATE_ON_START: 'true',
  LOG_LEVEL: 'silent',
  DB_POOL_MAX: '4',
});
const app = await startApp({ config, logger: createLogger('silent') });
const base = `http://127.0.0.1:${app.port}`;

const em = app.db.orm.em.fork();
await em.execute(RESET_TABLES);
const t0 = performance.now();
await em.execute(`
  insert into patients (patient_id, name, age, gender, medical_condition, last_visit)
  select 'B' || lpad(i::text, 6, '0'),
         (array['John','Jane','Robert','Émilie','ana','Zoë','Omar','Li'])[1 + i % 8] || ' ' || (array['Doe','Smith','Martin','lee','Ångström','Khan'])[1 + (i / 8) % 6] || ' ' || i,
         i % 101,
         (array['Male','Female','Other'])[1 + i % 3],
         (array['Hypertension','Asthma','Type 2 Diabetes','Migraine','Hyperthyroidism'])[1 + i % 5],
         date '2020-01-01' + (i % 1800)
  from generate_series(1, ${ROWS}) as s(i)`);
await em.execute('vacuum analyze patients');
console.log(
  `inserted ${ROWS} patients in ${Math.round(performance.now() - t0)} ms (${embedded ? 'embedded PGlite' : 'PostgreSQL server'})`,
);

const queries = [
  '/patients?gender=Female&_sort=name&_page=50&_limit=20',
  '/patients?gender=Female&_sort=name&_order=desc&_page=3&_limit=25',
  '/patients?age_gte=30&age_lte=40&_sort=lastVisit&_order=desc&_start=100&_end=125',
  '/patients?medicalCondition=Asthma&_sort=age,name&_page=10&_limit=10',
  '/patients?name_like=^jo&_sort=name&_page=1&_limit=20',
  '/patients?q=smith&_page=2&_limit=20',
  '/patients/54321',
];

for (const path of queries) {
  const times: number[] = [];
  let total = '';
  for (let i = 0; i < RUNS + 10; i++) {
    const s = performance.now();
    const res = await fetch(base + path);
    await res.arrayBuffer();
    if (i >= 10) times.push(performance.now() - s);
    total = res.headers.get('x-total-count') ?? total;
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!.toFixed(1);
  console.log(`${path.padEnd(78)} total=${total.padEnd(6)} p50=${pct(50)} ms  p99=${pct(99)} ms`);
}

await app.stop();
await embedded?.stop();

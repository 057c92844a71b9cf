/**
 * `npm run bench`: this service (REST and tRPC) against json-server 0.17.4 and a hand-written
 * node:http + pg server, on the same machine, the same PostgreSQL and the same patients, driven in
 * turn by autocannon, interleaved, several repetitions; prints medians.
 *
 *   npm run bench                                   # everything (about 20 minutes)
 *   npm run bench -- --scenario get-all-1000 --connections 50 --duration 3 --reps 1
 *
 * Each run is preceded by one unmeasured second of the same load (warm-up).
 * Options: --scenario a,b  --connections 50,256  --duration <s>  --reps <n>  --workers <n>
 *          --peers ours,ours-trpc,json-server,node-pg,uws-pg  --env KEY=VALUE (for this service; repeatable)
 *          (`ours-trpc`: this service through tRPC, for the scenarios that have a tRPC twin; it runs
 *          in the same interleaved repetitions as the REST peers, its ratio is tRPC over REST)
 *          --cpu: also the CPU time per request of the server process (all its threads), of
 *          PostgreSQL (every postgres process on this machine) and of the load generator, and
 *          the statements committed per request (pg_stat_database), from /proc (Linux)
 * Env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres; a database
 * hm_bench_<pid> is created there and dropped at the end).
 * Reported per peer: req/s, p50 and p99 as the load generator saw them, errors, peak RSS; for this
 * service also the p99 of the times in its own access log (server-side), which leaves out what the
 * client and the kernel add (queueing, scheduling on the shared cores).
 * Not a test: it reports what it measured and asserts nothing.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { freePort } from '../../src/net.ts';
import { ROOT } from '../support/process.ts';
import { RESET_TABLES } from '../support/reset.ts';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    connections: { type: 'string', default: '50,256' },
    duration: { type: 'string', default: '5' },
    reps: { type: 'string', default: '3' },
    workers: { type: 'string' },
    peers: { type: 'string', default: 'ours,ours-trpc,json-server,node-pg,uws-pg' },
    /** Extra environment for this service, e.g. --env COALESCE_READS=false (repeatable). */
    env: { type: 'string', multiple: true, default: [] },
    cpu: { type: 'boolean', default: false },
  },
});

type Peer = 'ours' | 'ours-trpc' | 'json-server' | 'node-pg' | 'uws-pg';
interface Scenario {
  name: string;
  rows: number;
  method: 'GET' | 'POST' | 'PATCH';
  /** Path on each peer (tRPC for ours in trpc-list). */
  path: (peer: Peer) => string;
  /** Peers that have no such route (json-server has no /health; the ceiling answers reads only). */
  skip?: Peer[];
  body?: () => string;
  /** A new path for every request (overrides `path` once the run is going). */
  nextPath?: () => string;
  /** The same read as a tRPC query, driven by the peer `ours-trpc` side by side with the REST peers. */
  trpc?: { path: () => string; nextPath: () => string };
}

const newPatient = (i: number) =>
  JSON.stringify({
    patientID: `W${process.pid}-${i}`,
    name: 'Bench Mark',
    age: 33,
    gender: 'Female',
    medicalCondition: 'Load',
    lastVisit: '2024-05-05',
  });
let counter = 0;
/** A tRPC query as httpLink sends it: GET with the superjson-encoded input in the query string. */
const trpcGet = (procedure: string, input: unknown) => `/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
const GENDERS = ['Male', 'Female', 'Other'];
/** Peers that only answer reads (the ceiling: uWS + pg). */
const READ_ONLY: Peer[] = ['uws-pg'];

/** The tRPC twins of the two spread reads: `patient.byId` and `patient.search` with an offset. */
const BY_ID_TWIN = {
  path: () => trpcGet('patient.byId', { id: 1 }),
  nextPath: () => trpcGet('patient.byId', { id: 1 + ((counter++ * 7919) % 1000) }),
};
const PAGE_TWIN = {
  path: () => trpcGet('patient.search', { offset: 0, limit: 20 }),
  nextPath: () => trpcGet('patient.search', { offset: 20 * Math.floor(Math.random() * 50), limit: 20 }),
};

const SCENARIOS: Scenario[] = [
  { name: 'get-all-3', rows: 3, method: 'GET', path: () => '/patients' },
  { name: 'get-all-1000', rows: 1000, method: 'GET', path: () => '/patients' },
  { name: 'get-all-10000', rows: 10_000, method: 'GET', path: () => '/patients' },
  { name: 'page-100k', rows: 100_000, method: 'GET', path: () => '/patients?gender=Female&_sort=name&_page=50&_limit=20' },
  { name: 'get-by-id', rows: 1000, method: 'GET', path: () => '/patients/500' },
  // Every request a different patient (a prime stride through the 1,000 ids): nothing to share.
  {
    name: 'get-by-id-spread',
    rows: 1000,
    method: 'GET',
    path: () => '/patients/1',
    nextPath: () => `/patients/${1 + ((counter++ * 7919) % 1000)}`,
    trpc: BY_ID_TWIN,
  },
  // Every request a different page (random, 1..50 of 20): the common case of many users paging.
  {
    name: 'get-page-spread',
    rows: 1000,
    method: 'GET',
    path: () => '/patients?_page=1&_limit=20',
    nextPath: () => `/patients?_page=${1 + Math.floor(Math.random() * 50)}&_limit=20`,
    trpc: PAGE_TWIN,
  },
  // The same with a random filter and sort: every request its own query.
  {
    name: 'get-page-filter-spread',
    rows: 1000,
    method: 'GET',
    path: () => '/patients?gender=Female&_sort=name&_page=1&_limit=20',
    nextPath: () =>
      `/patients?gender=${GENDERS[Math.floor(Math.random() * 3)]}&_sort=${Math.random() < 0.5 ? 'name' : 'age'}&_page=${1 + Math.floor(Math.random() * 16)}&_limit=20`,
  },
  // The tRPC twins of the two spread reads on their own (the peer `ours-trpc` runs them side by
  // side with REST in the two scenarios above).
  {
    name: 'trpc-by-id-spread',
    rows: 1000,
    method: 'GET',
    ...BY_ID_TWIN,
    skip: ['json-server', 'node-pg', 'uws-pg'],
  },
  {
    name: 'trpc-page-spread',
    rows: 1000,
    method: 'GET',
    ...PAGE_TWIN,
    skip: ['json-server', 'node-pg', 'uws-pg'],
  },
  { name: 'post', rows: 1000, method: 'POST', path: () => '/patients', body: () => newPatient(counter++) },
  { name: 'patch', rows: 1000, method: 'PATCH', path: () => '/patients/500', body: () => JSON.stringify({ age: 20 + (counter++ % 50) }) },
  { name: 'health', rows: 3, method: 'GET', path: () => '/health', skip: ['json-server'] },
  {
    name: 'trpc-list-1000',
    rows: 1000,
    method: 'GET',
    path: (peer) => (peer === 'ours' ? '/trpc/patient.list' : '/patients'),
  },
];

const wanted = args.scenario?.split(',');
const scenarios = SCENARIOS.filter((s) => !wanted || wanted.includes(s.name));
const connectionCounts = args.connections!.split(',').map(Number);
const duration = Number(args.duration);
const reps = Number(args.reps);
const peers = args.peers!.split(',') as Peer[];
const workers = args.workers ?? String(availableParallelism());
const oursEnv = Object.fromEntries((args.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const dbName = `hm_bench_${process.pid}`;
const dbUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

async function sql(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

async function waitFor(url: string, child: ChildProcess) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: server exited with ${child.exitCode}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not start`);
}

/** Rows: a deterministic mix with equal ages, dates and accented names. */
async function seed(rows: number): Promise<void> {
  await sql(dbUrl, RESET_TABLES);
  await sql(
    dbUrl,
    `insert into patients (patient_id, name, age, gender, medical_condition, last_visit)
     select 'B' || lpad(i::text, 6, '0'),
            (array['John','Jane','Robert','Émilie','ana','Zoë','Omar','Li'])[1 + i % 8] || ' ' || (array['Doe','Smith','Martin','lee','Ångström','Khan'])[1 + (i / 8) % 6],
            i % 101, (array['Male','Female','Other'])[1 + i % 3],
            (array['Hypertension','Asthma','Type 2 Diabetes','Migraine'])[1 + i % 4],
            date '2020-01-01' + (i % 1800)
     from generate_series(1, ${rows}) as s(i)`,
  );
  await sql(dbUrl, 'vacuum analyze patients');
}

async function exportDbJson(path: string) {
  const rows = await sql(
    dbUrl,
    `select id, patient_id as "patientID", name, age, gender, medical_condition as "medicalCondition", to_char(last_visit, 'YYYY-MM-DD') as "lastVisit" from patients order by id`,
  );
  writeFileSync(path, JSON.stringify({ patients: rows }));
}

/** The environment for peers: no NODE_OPTIONS (npm run sets --import=tsx, which json-server's folder cannot resolve). */
function peerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  return { ...env, ...extra };
}

interface Running {
  child: ChildProcess;
  base: string;
  /** This service's stdout (its JSON log, access lines included), read after it stops. */
  log?: string;
}

async function start(peer: Peer): Promise<Running> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let child: ChildProcess;
  let log: string | undefined;
  if (peer === 'ours' || peer === 'ours-trpc') {
    // The log goes to a file (as it would to a collector), parsed only after the server stopped.
    log = join(logDir, `ours-${port}.log`);
    const fd = openSync(log, 'w');
    child = spawn(process.execPath, ['dist/src/main.cjs'], {
      cwd: ROOT,
      stdio: ['ignore', process.env.BENCH_VERBOSE ? 'inherit' : fd, 'inherit'],
      env: peerEnv({ DATABASE_URL: dbUrl, PORT: String(port), WORKERS: workers, DB_POOL_MAX: '10', LOG_LEVEL: 'info', ...oursEnv }),
    });
    closeSync(fd);
  } else if (peer === 'node-pg' || peer === 'uws-pg') {
    const script = peer === 'node-pg' ? 'baseline-server.mjs' : 'ceiling-server.mjs';
    child = spawn(process.execPath, [join(ROOT, 'tests/bench', script)], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: peerEnv({ DATABASE_URL: dbUrl, PORT: String(port) }),
    });
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'bench-json-server-'));
    await exportDbJson(join(dir, 'db.json'));
    child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/json-server/lib/cli/bin.js'), '--host', '127.0.0.1', '--port', String(port), '--quiet', 'db.json'],
      {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: peerEnv({}),
      },
    );
  }
  await waitFor(`${base}/health`, child);
  return { child, base, ...(log ? { log } : {}) };
}

const logDir = mkdtempSync(join(tmpdir(), 'bench-logs-'));
const logSize = (r: Running) => (r.log ? statSync(r.log).size : 0);

/**
 * The 99th percentile of the time this service itself reports for the requests it completed
 * (access log `ms`: from the request reaching the handler to the response handed to the socket),
 * from byte `from` of its log on. What the load generator adds on top is queueing in the client
 * and in the kernel, and scheduling on the shared cores.
 */
function serverP99(r: Running, from: number): number | undefined {
  if (!r.log || process.env.BENCH_VERBOSE) return undefined;
  const text = readFileSync(r.log).subarray(from).toString('utf8');
  const ms: number[] = [];
  // Requests the client gave up on (`"aborted":true`) count too, with the time until they were.
  for (const m of text.matchAll(/"status":\d+,"ms":([\d.]+)(?:,"aborted":true)?,"msg":"request"/g)) ms.push(Number(m[1]));
  if (ms.length === 0) return undefined;
  ms.sort((a, b) => a - b);
  return ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))];
}

async function stop(r: Running) {
  const exited = () => r.child.exitCode !== null || r.child.signalCode !== null;
  if (exited()) return;
  r.child.kill('SIGTERM');
  await new Promise((resolve) => (exited() ? resolve(null) : r.child.once('exit', resolve)));
}

/** Peak resident memory of a process and its threads (VmHWM), in MB. */
function peakRssMb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** This service only: p99 of its own access-log times (see serverP99). */
  serverP99?: number;
  /** With --cpu: µs of CPU per completed request, and statements committed per request. */
  cpu?: { server: number; postgres: number; generator: number; statements: number };
}

/** CPU seconds (user + system) a process has used, all its threads; 0 once it is gone. */
function cpuSeconds(pid: number | string): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds used by every PostgreSQL process on this machine (the server and its backends). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') total += cpuSeconds(pid);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

const commits = async () =>
  Number((await sql(adminUrl, `select xact_commit::text as n from pg_stat_database where datname = '${dbName}'`))[0]?.n ?? 0);

/** The CPU each side spent on the requests of one measured run (see --cpu). */
async function measureCpu(pid: number, run: () => Promise<Sample>): Promise<Sample> {
  const before = { server: cpuSeconds(pid), postgres: postgresCpuSeconds(), generator: process.cpuUsage(), commits: await commits() };
  const sample = await run();
  const generator = process.cpuUsage(before.generator);
  const requests = Math.max(1, sample.rps * duration);
  const perRequest = (seconds: number) => Math.round((seconds / requests) * 1e6);
  sample.cpu = {
    server: perRequest(cpuSeconds(pid) - before.server),
    postgres: perRequest(postgresCpuSeconds() - before.postgres),
    generator: perRequest((generator.user + generator.system) / 1e6),
    statements: Math.round((((await commits()) - before.commits) / requests) * 1000) / 1000,
  };
  return sample;
}

async function drive(base: string, s: Scenario, peer: Peer, connections: number, seconds = duration): Promise<Sample> {
  // `ours-trpc` asks the scenario's tRPC twin; every other peer its own path.
  const twin = peer === 'ours-trpc' ? s.trpc : undefined;
  const nextPath = twin ? twin.nextPath : s.nextPath;
  const result = await autocannon({
    url: base,
    connections,
    duration: seconds,
    requests: [
      {
        method: s.method,
        path: twin ? twin.path() : s.path(peer),
        headers: { 'content-type': 'application/json' },
        ...(s.body || nextPath
          ? {
              setupRequest: (req: autocannon.Request) => ({
                ...req,
                ...(s.body ? { body: s.body() } : {}),
                ...(nextPath ? { path: nextPath() } : {}),
              }),
            }
          : {}),
      },
    ],
  });
  const okStatus = (code: number) => (s.method === 'POST' ? code === 201 : code === 200);
  const bad = Object.entries(result.statusCodeStats ?? {}).reduce(
    (n, [code, v]) => n + (okStatus(Number(code)) ? 0 : (v as { count: number }).count),
    0,
  );
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.timeouts + bad };
}

const WARMUP_SECONDS = 1;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main() {
  console.log(
    `bench: ${cpus().length} cores, node ${process.version}, ours with WORKERS=${workers}${Object.entries(oursEnv)
      .map(([k, v]) => ` ${k}=${v}`)
      .join('')}, ` + `${duration}s x ${reps} reps, connections ${connectionCounts.join('/')}`,
  );
  // This service runs as `npm start` runs it: the bundle, built from the current sources.
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  await sql(adminUrl, `drop database if exists ${dbName}`);
  await sql(adminUrl, `create database ${dbName}`);
  const migrate = spawn(process.execPath, ['--import', 'tsx', 'node_modules/@mikro-orm/cli/cli', 'migration:up'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: peerEnv({ DATABASE_URL: dbUrl }),
  });
  await new Promise((r) => migrate.on('exit', r));
  const report: string[] = [];
  try {
    for (const s of scenarios) {
      for (const connections of connectionCounts) {
        const active = peers.filter(
          (p) =>
            !s.skip?.includes(p) &&
            !(READ_ONLY.includes(p) && (s.method !== 'GET' || s.name.startsWith('trpc'))) &&
            (p !== 'ours-trpc' || s.trpc !== undefined),
        );
        const samples = new Map<Peer, Sample[]>(active.map((p) => [p, []]));
        const rss = new Map<Peer, number>();
        // Reads leave the data as it is: seed once. Writes get fresh data for every run.
        const writes = s.method !== 'GET';
        if (!writes) await seed(s.rows);
        for (let rep = 0; rep < reps; rep++) {
          // Interleaved: every peer once per repetition, in a rotating order.
          const order = active.map((_, i) => active[(i + rep) % active.length]!);
          for (const peer of order) {
            if (writes) await seed(s.rows);
            const running = await start(peer);
            try {
              // Warm-up, not measured: every peer gets its JIT and its pool ready first.
              await drive(running.base, s, peer, connections, WARMUP_SECONDS);
              // The log is written asynchronously: let the warm-up's last lines land first.
              await new Promise((resolve) => setTimeout(resolve, 200));
              const from = logSize(running);
              const measured = () => drive(running.base, s, peer, connections);
              const sample = args.cpu && running.child.pid ? await measureCpu(running.child.pid, measured) : await measured();
              samples.get(peer)!.push(sample);
              rss.set(peer, Math.max(rss.get(peer) ?? 0, peakRssMb(running.child.pid)));
              await stop(running);
              const p99 = serverP99(running, from);
              if (p99 !== undefined) sample.serverP99 = p99;
            } finally {
              await stop(running);
            }
          }
        }
        const ours = median(samples.get('ours')?.map((x) => x.rps) ?? [0]);
        const lines = active.map((peer) => {
          const xs = samples.get(peer)!;
          const rps = median(xs.map((x) => x.rps));
          // A peer that completed no request within the run has no finite ratio: say so.
          const ratio =
            peer === 'ours'
              ? ''
              : rps < 1
                ? `peer completed no request in ${duration} s`
                : peer === 'ours-trpc'
                  ? `tRPC/REST ${(rps / ours).toFixed(2)}x`
                  : `ours/peer ${(ours / rps).toFixed(2)}x`;
          const server = xs.every((x) => x.serverP99 !== undefined) ? String(median(xs.map((x) => x.serverP99!))) : '—';
          const cpu = args.cpu
            ? ` ${(['server', 'postgres', 'generator'] as const).map((k) => median(xs.map((x) => x.cpu?.[k] ?? 0))).join(' · ')} | ${median(xs.map((x) => x.cpu?.statements ?? 0))} |`
            : '';
          return `| ${s.name} | ${connections} | ${peer} | ${rps.toFixed(0)} | ${median(xs.map((x) => x.p50))} | ${median(xs.map((x) => x.p99))} | ${server} | ${xs.reduce((n, x) => n + x.errors, 0)} | ${(rss.get(peer) ?? 0).toFixed(0)} | ${ratio} |${cpu}`;
        });
        for (const line of lines) console.log(line);
        report.push(...lines);
      }
    }
  } finally {
    await sql(adminUrl, `drop database if exists ${dbName} with (force)`);
    rmSync(logDir, { recursive: true, force: true });
  }
  const cpuColumns = args.cpu ? ' CPU µs/request (server · PostgreSQL · load generator) | statements/request |' : '';
  console.log(`\n| scenario | c | server | req/s | p50 ms | p99 ms | server-side p99 ms | errors | peak RSS MB | ratio |${cpuColumns}`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|${args.cpu ? '---|---|' : ''}`);
  for (const line of report) console.log(line);
}

await main();

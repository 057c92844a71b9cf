/**
 * `npm run bench:live`: live updates (GET /patients/events) under fan-out. The service runs as
 * `npm start` runs it (the bundle, built from the current sources) on a scratch PostgreSQL
 * database; N subscribers hold the event stream open while one client writes patients one after
 * another at a steady pace.
 *
 *   npm run bench:live                                    # 1, 100, 1,000 and 2,000 subscribers + cross-instance (about 1 minute)
 *   npm run bench:live -- --subscribers 10,500 --writes 100 --interval-ms 20 --cross 0
 *
 * Options: --subscribers 1,100,1000  --memory 2000 (one more point, 0: none)  --cross 100 (subscribers
 *          of the cross-instance case, 0: none)  --writes 200  --warmup 20 (unmeasured writes first)
 *          --interval-ms 10  --workers 1
 *          --env KEY=VALUE (for the service; repeatable)
 * Env: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres; a database
 * hm_bench_<pid> is created there and dropped at the end).
 *
 * Latency of one (write, subscriber) pair: the time the subscriber read the write's event off its
 * socket minus the time the write's 201 arrived at the writer. The subscribers are raw TCP clients
 * (node:net, an HTTP/1.1 request, the chunked body and the SSE frames parsed by hand) in a thread
 * of their own, so reading thousands of frames does not delay the writer's clock; both threads
 * read the same clock (the process' monotonic clock, process.hrtime). A negative latency is an event
 * that arrived before the writer saw its 201.
 * Before each measured run come --warmup unmeasured writes at the same pace, the last of which must
 * reach every subscriber (every stream is then past its start-up). lost = (write, subscriber) pairs
 * of the measured writes whose event never arrived at a subscriber that had connected; dup = events
 * a subscriber got more than once (warm-up included); both must be 0. Subscribers that could not
 * connect (EMFILE, say) are named in the notes and left out.
 * writes/s: the pace the writer achieved (below 1000/interval when the service could not keep up:
 * each write waits for the previous 201). CPU: cores used, from the first measured write to the
 * drain, by the service process and by this one (the subscribers and the writer); the machine's
 * other consumer is PostgreSQL.
 * RSS: the service's VmRSS sampled every 20 ms, its peak while the case ran (subscribers connected,
 * writes, drain), next to the VmRSS it had just before the subscribers connected.
 * The cross-instance case runs two service processes on the same database: subscribers on B,
 * writes on A (B learns of them through PostgreSQL's LISTEN/NOTIFY).
 * Not a test: it reports what it measured and asserts nothing.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/**
 * One clock for both threads, in ms: the process' monotonic clock. (performance.now() counts from
 * each thread's own start, and performance.timeOrigin of two threads can disagree by a millisecond.)
 */
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// The subscribers' thread.
// ---------------------------------------------------------------------------------------------

/** Main thread → subscribers' thread. */
type ToSubscribers =
  | { type: 'open'; port: number; count: number }
  /** Reply once every subscriber has the event of this record (or after timeoutMs), then forget everything received. */
  | { type: 'warm'; recordId: number; timeoutMs: number }
  /** Wait (up to timeoutMs) until every subscriber has the event of every write, then measure. */
  | { type: 'collect'; writes: { recordId: number; ackAt: number }[]; timeoutMs: number }
  | { type: 'close' };

/** Subscribers' thread → main thread. */
type FromSubscribers =
  | { type: 'opened'; connected: number; errors: string[]; ms: number }
  | { type: 'warmed'; ok: number; ms: number }
  | { type: 'collected'; result: CaseResult }
  | { type: 'closed' };

interface CaseResult {
  /** Sorted latencies (ms) of every (write, subscriber) pair that arrived. */
  latencies: number[];
  lost: number;
  duplicates: number;
  /** Events that arrived after one with a higher event id (must be 0 too). */
  outOfOrder: number;
  /** Subscribers whose connection ended during the run (after it had opened). */
  dropped: number;
  /** What went wrong on the subscribers' side (a frame whose `id:` differs from its eventId, a socket error). */
  errors: string[];
  drainMs: number;
}

interface Subscriber {
  socket: Socket;
  /** Record id → receive time of its first event, since the last reset. */
  got: Map<number, number>;
  seen: Set<number>;
  lastEventId: number;
  duplicates: number;
  outOfOrder: number;
  connected: boolean;
  ended: boolean;
  error?: string;
}

function subscriberThread() {
  const port = parentPort!;
  let subs: Subscriber[] = [];
  /** Checked whenever an event arrives (a pending warm-up or collect waits on it). */
  let onEvent: (() => void) | undefined;

  function open(tcpPort: number): Subscriber {
    const socket = connect({ host: '127.0.0.1', port: tcpPort, noDelay: true });
    const sub: Subscriber = {
      socket,
      got: new Map(),
      seen: new Set(),
      lastEventId: 0,
      duplicates: 0,
      outOfOrder: 0,
      connected: false,
      ended: false,
    };
    socket.setEncoding('latin1');
    socket.write(`GET /patients/events HTTP/1.1\r\nHost: 127.0.0.1:${tcpPort}\r\nAccept: text/event-stream\r\n\r\n`);
    // Parser state: the response head, then (chunked) body bytes, then SSE frames.
    let head = '';
    let inBody = false;
    let chunked = false;
    /** Bytes left in the current chunk; -1: reading a chunk-size line. */
    let chunkLeft = -1;
    let raw = '';
    let sse = '';
    const frames = (text: string) => {
      sse += text;
      let end = sse.indexOf('\n\n');
      while (end !== -1) {
        const frame = sse.slice(0, end);
        sse = sse.slice(end + 2);
        end = sse.indexOf('\n\n');
        if (frame.includes(': connected')) sub.connected = true;
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (data === undefined) continue;
        const at = now();
        const id = Number(/^id: (\d+)$/m.exec(frame)?.[1]);
        const event = JSON.parse(Buffer.from(data, 'latin1').toString('utf8')) as { eventId: number; id: number };
        if (event.eventId !== id) sub.error = `id: ${id} but eventId ${event.eventId}`;
        if (sub.seen.has(id)) sub.duplicates++;
        else {
          sub.seen.add(id);
          if (id < sub.lastEventId) sub.outOfOrder++;
          sub.lastEventId = Math.max(sub.lastEventId, id);
          if (!sub.got.has(event.id)) sub.got.set(event.id, at);
        }
        onEvent?.();
      }
    };
    const body = (text: string) => {
      if (!chunked) return frames(text);
      raw += text;
      for (;;) {
        if (chunkLeft === -1) {
          const eol = raw.indexOf('\r\n');
          if (eol === -1) return;
          chunkLeft = Number.parseInt(raw.slice(0, eol), 16);
          raw = raw.slice(eol + 2);
          if (chunkLeft === 0) return; // the last chunk: the server ended the stream
        }
        // The chunk's data, then its CRLF.
        if (raw.length < chunkLeft + 2) {
          if (raw.length > 0 && raw.length <= chunkLeft) {
            frames(raw);
            chunkLeft -= raw.length;
            raw = '';
          }
          return;
        }
        frames(raw.slice(0, chunkLeft));
        raw = raw.slice(chunkLeft + 2);
        chunkLeft = -1;
      }
    };
    socket.on('data', (text: string) => {
      if (inBody) return body(text);
      head += text;
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = head.slice(0, end).split('\r\n');
      if (!/^HTTP\/1\.1 200 /.test(lines[0] ?? '')) {
        sub.error = `answered ${lines[0]}`;
        socket.destroy();
        return;
      }
      chunked = lines.some((l) => /^transfer-encoding:\s*chunked/i.test(l));
      inBody = true;
      const rest = head.slice(end + 4);
      head = '';
      body(rest);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      sub.error ??= error.code === 'EMFILE' ? 'EMFILE: too many open files (raise `ulimit -n`)' : `${error.code ?? error.message}`;
    });
    socket.on('close', () => {
      sub.ended = true;
      onEvent?.();
    });
    return sub;
  }

  /** Resolves once `done()` holds (checked on every event) or after `timeoutMs`. */
  const until = (done: () => boolean, timeoutMs: number) =>
    new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        onEvent = undefined;
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      onEvent = () => {
        if (done()) finish();
      };
      onEvent();
    });

  port.on('message', async (m: ToSubscribers) => {
    const reply = (r: FromSubscribers) => port.postMessage(r);
    if (m.type === 'open') {
      const started = now();
      subs = Array.from({ length: m.count }, () => open(m.port));
      // Connected: the `: connected` comment arrived (or the connection failed), for every one.
      for (let i = 0; i < 3000 && subs.some((s) => !s.connected && !s.ended); i++) await sleep(10);
      const errors = [...new Set(subs.flatMap((s) => (s.error ? [s.error] : s.connected ? [] : ['not connected'])))];
      reply({ type: 'opened', connected: subs.filter((s) => s.connected && !s.ended).length, errors, ms: now() - started });
    } else if (m.type === 'warm') {
      const started = now();
      await until(() => subs.every((s) => s.got.has(m.recordId) || s.ended || !s.connected), m.timeoutMs);
      const ok = subs.filter((s) => s.got.has(m.recordId)).length;
      // Only the latencies start afresh: duplicates and order count over the whole case.
      for (const s of subs) s.got.clear();
      reply({ type: 'warmed', ok, ms: now() - started });
    } else if (m.type === 'collect') {
      const started = now();
      // Every write is a record of its own and nothing else is written meanwhile: a subscriber has
      // them all once it holds as many records as there were writes.
      await until(() => subs.every((s) => s.ended || !s.connected || s.got.size >= m.writes.length), m.timeoutMs);
      const drainMs = now() - started;
      const latencies: number[] = [];
      let lost = 0;
      // Subscribers that never connected are reported by `open`, not counted here.
      const live = subs.filter((s) => s.connected);
      for (const s of live) {
        for (const w of m.writes) {
          const at = s.got.get(w.recordId);
          if (at === undefined) lost++;
          else latencies.push(at - w.ackAt);
        }
      }
      latencies.sort((a, b) => a - b);
      const result: CaseResult = {
        latencies,
        lost,
        duplicates: live.reduce((n, s) => n + s.duplicates, 0),
        outOfOrder: live.reduce((n, s) => n + s.outOfOrder, 0),
        dropped: live.filter((s) => s.ended).length,
        errors: [...new Set(live.flatMap((s) => (s.error ? [s.error] : [])))],
        drainMs,
      };
      reply({ type: 'collected', result });
    } else if (m.type === 'close') {
      await Promise.all(
        subs.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.socket.destroyed) return resolve();
              s.socket.once('close', () => resolve());
              s.socket.destroy();
            }),
        ),
      );
      subs = [];
      reply({ type: 'closed' });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The main thread: the database, the service, the writer, the report.
// ---------------------------------------------------------------------------------------------

interface Running {
  child: ChildProcess;
  port: number;
  log: string;
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '1,100,1000' },
      /** One more point at this many subscribers (the memory point); 0: none. */
      memory: { type: 'string', default: '2000' },
      /** Subscribers of the cross-instance case (on B, writes on A); 0: none. */
      cross: { type: 'string', default: '100' },
      writes: { type: 'string', default: '200' },
      /** Unmeasured writes before each case's measured ones. */
      warmup: { type: 'string', default: '20' },
      'interval-ms': { type: 'string', default: '10' },
      workers: { type: 'string', default: '1' },
      env: { type: 'string', multiple: true, default: [] },
    },
  });
  const counts = args
    .subscribers!.split(',')
    .map(Number)
    .filter((n) => n > 0);
  const memoryPoint = Number(args.memory);
  const crossCount = Number(args.cross);
  const writes = Number(args.writes);
  const warmups = Math.max(1, Number(args.warmup));
  const intervalMs = Number(args['interval-ms']);
  const workers = args.workers!;
  const extraEnv = Object.fromEntries((args.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const most = Math.max(...counts, memoryPoint, crossCount);

  // Every subscriber is a socket here and one in the service: both need that many descriptors.
  const need = most + 256;
  const [soft, hard] = fdLimits();
  if (soft < need) {
    if (hard >= need && !process.env.BENCH_LIVE_REEXEC) {
      // Node cannot raise its own limit: run again under a shell that does (children inherit it).
      const r = spawnSync(
        'sh',
        ['-c', `ulimit -n ${need} && exec "$0" "$@"`, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
        {
          stdio: 'inherit',
          env: { ...process.env, BENCH_LIVE_REEXEC: '1' },
        },
      );
      process.exit(r.status ?? 1);
    }
    console.error(
      `bench:live: ${most} subscribers need about ${need} open files but the limit is ${soft} (hard ${hard}); ` +
        'raise it (`ulimit -n`) or use fewer subscribers. Cases above the limit will show EMFILE.',
    );
  }

  const { default: pg } = await import('pg');
  const { freePort } = await import('../../src/net.ts');
  const { ROOT } = await import('../support/process.ts');

  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const dbName = `hm_bench_${process.pid}`;
  const dbUrl = (() => {
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    return u.toString();
  })();
  const sql = async (url: string, text: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(text)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...extra,
  });
  const logDir = mkdtempSync(join(tmpdir(), 'bench-live-'));

  const start = async (name: string): Promise<Running> => {
    const port = await freePort();
    const log = join(logDir, `${name}.log`);
    const fd = openSync(log, 'w');
    const child = spawn(process.execPath, ['dist/src/main.cjs'], {
      cwd: ROOT,
      stdio: ['ignore', fd, fd],
      env: env({ DATABASE_URL: dbUrl, PORT: String(port), WORKERS: workers, LOG_LEVEL: 'info', ...extraEnv }),
    });
    closeSync(fd);
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`service ${name} exited with ${child.exitCode}:\n${readFileSync(log, 'utf8')}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
      } catch {
        // not listening yet
      }
      if (i > 300) throw new Error(`service ${name} did not start`);
      await sleep(100);
    }
    return { child, port, log };
  };
  const stop = async (r: Running) => {
    if (r.child.exitCode !== null || r.child.signalCode !== null) return;
    const exited = new Promise((resolve) => r.child.once('exit', resolve));
    r.child.kill('SIGTERM');
    await exited;
  };

  // The subscribers' thread, and a request/reply over its port (one request at a time).
  // Worker threads do not inherit the TypeScript loader (Node 20): the thread registers tsx, then loads this file.
  const entry = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); });`;
  const thread = new Worker(entry, { eval: true, workerData: { subscribers: true } });
  thread.unref();
  const ask = <T extends FromSubscribers['type']>(message: ToSubscribers, type: T) =>
    new Promise<Extract<FromSubscribers, { type: T }>>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      thread.once('error', onError);
      thread.once('message', (r: FromSubscribers) => {
        thread.off('error', onError);
        if (r.type === type) resolve(r as Extract<FromSubscribers, { type: T }>);
        else reject(new Error(`expected ${type}, got ${r.type}`));
      });
      thread.postMessage(message);
    });

  // The writer: one keep-alive connection, one POST at a time.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let serial = 0;
  const post = (port: number) =>
    new Promise<{ recordId: number; ackAt: number }>((resolve, reject) => {
      const body = JSON.stringify({
        patientID: `L${process.pid}-${serial++}`,
        name: 'Live Bench',
        age: 40,
        gender: 'Other',
        medicalCondition: 'Fan-out',
        lastVisit: '2024-05-05',
      });
      const req = http.request(
        { host: '127.0.0.1', port, method: 'POST', path: '/patients', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          const ackAt = now();
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            if (res.statusCode !== 201) return reject(new Error(`POST /patients answered ${res.statusCode}: ${text}`));
            resolve({ recordId: (JSON.parse(text) as { id: number }).id, ackAt });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  /** Peak VmRSS (MB) of a process while `during` runs, sampled every 20 ms. */
  const vmRssMb = (pid: number | undefined) => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  };

  /** `n` writes, one at a time, started every `intervalMs` (or at once when the previous one took longer). */
  const paced = async (port: number, n: number) => {
    const acks: { recordId: number; ackAt: number }[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const wait = t0 + i * intervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      acks.push(await post(port));
    }
    return acks;
  };

  /** One case: `count` subscribers on `subscribeTo`, `writes` writes on `writeTo`. */
  const runCase = async (name: string, count: number, subscribeTo: Running, writeTo: Running): Promise<Row> => {
    const pid = subscribeTo.child.pid;
    // Let the previous case's connections close in the service before measuring its idle memory.
    await sleep(300);
    const idleRss = vmRssMb(pid);
    let peakRss = idleRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, vmRssMb(pid));
    }, 20);
    const row: Row = { name, subscribers: count, connected: 0, idleRss, peakRss, writesPerSecond: 0, note: '' };
    try {
      const opened = await ask({ type: 'open', port: subscribeTo.port, count }, 'opened');
      row.connected = opened.connected;
      if (opened.errors.length > 0) row.note = `connect: ${opened.errors.join('; ')}`;
      if (opened.connected === 0) return row;
      // Unmeasured: warm-up writes at the same pace (JIT, pool connections), the last of which
      // every subscriber must get (each stream is then past its start-up).
      const warm = await paced(writeTo.port, warmups);
      const warmed = await ask({ type: 'warm', recordId: warm.at(-1)!.recordId, timeoutMs: 30_000 }, 'warmed');
      if (warmed.ok < opened.connected) row.note += ` warm-up reached ${warmed.ok}/${opened.connected}`;
      const cpuBefore = { service: cpuSeconds(pid), bench: process.cpuUsage() };
      const t0 = performance.now();
      const acks = await paced(writeTo.port, writes);
      const writeSeconds = (performance.now() - t0) / 1000;
      const collected = await ask({ type: 'collect', writes: acks, timeoutMs: 30_000 }, 'collected');
      const seconds = (performance.now() - t0) / 1000;
      const bench = process.cpuUsage(cpuBefore.bench);
      row.cpu = {
        service: (cpuSeconds(pid) - cpuBefore.service) / seconds,
        bench: (bench.user + bench.system) / 1e6 / seconds,
      };
      row.result = collected.result;
      row.writesPerSecond = writes / writeSeconds;
      row.note += ` ${writes} writes in ${writeSeconds.toFixed(1)} s, drained ${collected.result.drainMs.toFixed(0)} ms after the last`;
      if (collected.result.dropped > 0) row.note += `, ${collected.result.dropped} streams ended`;
      if (collected.result.outOfOrder > 0) row.note += `, ${collected.result.outOfOrder} out of order`;
      if (collected.result.errors.length > 0) row.note += `, errors: ${collected.result.errors.join('; ')}`;
      return row;
    } finally {
      await ask({ type: 'close' }, 'closed');
      clearInterval(sampler);
      row.peakRss = Math.max(peakRss, vmRssMb(pid));
      row.note = row.note.trim();
    }
  };

  console.log(
    `bench:live: ${cpus().length} cores, node ${process.version}, service WORKERS=${workers}${Object.entries(extraEnv)
      .map(([k, v]) => ` ${k}=${v}`)
      .join(
        '',
      )}, ${writes} writes every ${intervalMs} ms, subscribers ${[...counts, ...(memoryPoint > 0 ? [memoryPoint] : [])].join('/')}` +
      `${crossCount > 0 ? `, cross-instance ${crossCount}` : ''}, open files limit ${fdLimits()[0]}`,
  );
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  await sql(adminUrl, `drop database if exists ${dbName}`);
  await sql(adminUrl, `create database ${dbName}`);
  const rows: Row[] = [];
  const running: Running[] = [];
  try {
    const migrate = spawn(process.execPath, ['--import', 'tsx', 'node_modules/@mikro-orm/cli/cli', 'migration:up'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: env({ DATABASE_URL: dbUrl }),
    });
    const code = await new Promise((resolve) => migrate.on('exit', resolve));
    if (code !== 0) throw new Error(`migration:up exited with ${code}`);

    const a = await start('a');
    running.push(a);
    for (const count of [...counts, ...(memoryPoint > 0 ? [memoryPoint] : [])]) {
      const row = await runCase('same instance', count, a, a);
      rows.push(row);
      console.log(line(row));
    }
    if (crossCount > 0) {
      const b = await start('b');
      running.push(b);
      const row = await runCase('cross-instance (subscribers on B, writes on A)', crossCount, b, a);
      rows.push(row);
      console.log(line(row));
    }
  } finally {
    agent.destroy();
    for (const r of running) await stop(r);
    await thread.terminate();
    await sql(adminUrl, `drop database if exists ${dbName} with (force)`);
    rmSync(logDir, { recursive: true, force: true });
  }
  console.log(
    '\n| case | subscribers | connected | events | p50 ms | p99 ms | max ms | lost | dup | writes/s | CPU service / bench (cores) | idle RSS MB | peak RSS MB | notes |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(line(row));
}

interface Row {
  name: string;
  subscribers: number;
  connected: number;
  result?: CaseResult;
  idleRss: number;
  peakRss: number;
  /** Writes acknowledged per second (the pace asked for, or less when the service could not keep it). */
  writesPerSecond: number;
  /** CPU used from the first measured write to the drain, in cores: the service process, this process. */
  cpu?: { service: number; bench: number };
  note: string;
}

function line(row: Row): string {
  const r = row.result;
  const q = (p: number) =>
    r && r.latencies.length > 0 ? r.latencies[Math.min(r.latencies.length - 1, Math.floor(r.latencies.length * p))]!.toFixed(2) : '—';
  const max = r && r.latencies.length > 0 ? r.latencies.at(-1)!.toFixed(1) : '—';
  const cpu = row.cpu ? `${row.cpu.service.toFixed(2)} / ${row.cpu.bench.toFixed(2)}` : '—';
  return `| ${row.name} | ${row.subscribers} | ${row.connected} | ${r?.latencies.length ?? 0} | ${q(0.5)} | ${q(0.99)} | ${max} | ${r?.lost ?? '—'} | ${r?.duplicates ?? '—'} | ${row.writesPerSecond.toFixed(0)} | ${cpu} | ${row.idleRss.toFixed(0)} | ${row.peakRss.toFixed(0)} | ${row.note} |`;
}

/** CPU time (user + system, every thread) a process has used, in seconds. */
function cpuSeconds(pid: number | undefined): number {
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

/** The soft and hard limits on open files of this process. */
function fdLimits(): [number, number] {
  try {
    const m = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    const n = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
    return [n(m?.[1]), n(m?.[2])];
  } catch {
    return [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  }
}

if (isMainThread) await main();
else if ((workerData as { subscribers?: boolean } | undefined)?.subscribers) subscriberThread();

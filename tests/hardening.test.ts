/**
 * Bad input on both surfaces, the error boundary, concurrency, aborts and slow clients: every
 * failure is a clear 4xx (or a generic 5xx), the data stays unchanged and the process keeps serving.
 */

import { request as rawRequest } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patientOutput } from '../src/patients/patient.schemas.ts';
import { startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
const valid = { patientID: 'H001', name: 'Hard Ening', age: 50, gender: 'Male', medicalCondition: 'Fine', lastVisit: '2024-01-01' };

beforeAll(async () => {
  // A short body deadline for the slow-client tests. The wait for the database is not tested here
  // (sql-client and outage tests do): a generous one keeps the burst tests below from turning a
  // busy CI machine into 503s.
  t = await startTestApp({ REQUEST_TIMEOUT_MS: '1000', DB_ACQUIRE_TIMEOUT_MS: '30000', LOG_LEVEL: 'trace' });
});
afterAll(() => t?.stop());

const count = async () => Number((await t.db.query<{ n: string }>('select count(*) as n from patients'))[0]?.n);
const rest = (body: string, contentType = 'application/json') =>
  fetch(`${t.baseUrl}/patients`, { method: 'POST', headers: { 'content-type': contentType }, body });
/** tRPC's wire format for a mutation with superjson: `{"json": input}`. */
const rpc = (body: string, contentType = 'application/json') =>
  fetch(`${t.baseUrl}/trpc/patient.create`, { method: 'POST', headers: { 'content-type': contentType }, body });
const json = (v: unknown) => JSON.stringify(v);
const wrap = (v: unknown) => JSON.stringify({ json: v });

async function expectCleanError(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/json');
  const text = await res.text();
  expect(text).not.toMatch(/"stack"|\bat [\w.<>]+ \(|node_modules|\.ts:\d+|Cannot destructure|Unexpected end/);
  return JSON.parse(text) as Record<string, unknown>;
}

describe('bad input on REST and tRPC', () => {
  const cases: [string, unknown][] = [
    ['wrong types', { ...valid, age: 'fifty', name: 42 }],
    ['out-of-range age', { ...valid, age: 151 }],
    ['impossible date', { ...valid, lastVisit: '2024-02-30' }],
    ['non-date', { ...valid, lastVisit: 'yesterday' }],
    ['very long strings', { ...valid, name: 'x'.repeat(256), patientID: 'y'.repeat(51) }],
    ['NUL bytes', { ...valid, name: 'Null\u0000Byte' }],
    ['blank strings', { ...valid, name: ' \t ' }],
    ['unknown fields', { ...valid, diagnosisCode: 'X' }],
    ['client-sent id', { ...valid, id: 12345 }],
    ['client-sent timestamps', { ...valid, createdAt: '1999-01-01T00:00:00Z', updatedAt: '1999-01-01T00:00:00Z' }],
    ['nested objects', { ...valid, name: { first: 'a' } }],
    ['an array', [valid]],
    ['null', null],
    ['a string', 'patient'],
    ['a number', 42],
  ];

  it.each(cases)('%s: 400 on both surfaces, nothing stored', async (_label, body) => {
    const before = await count();
    await expectCleanError(await rest(json(body)), 400);
    await expectCleanError(await rpc(wrap(body)), 400);
    expect(await count()).toBe(before);
  });

  it('odd but valid unicode and SQL-looking text are stored literally', async () => {
    const name = `'; DELETE FROM patients; -- \u202Eevil\u202C Ζωή 李 \uD83D\uDE00 \u0301`;
    const res = await rest(json({ ...valid, patientID: 'H-UNI', name }));
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: number };
    expect(((await (await fetch(`${t.baseUrl}/patients/${id}`)).json()) as { name: string }).name).toBe(name);
  });

  it('malformed JSON: 400 PARSE_ERROR on both surfaces, no parser message', async () => {
    expect(await expectCleanError(await rest('{"name": '), 400)).toEqual({ message: 'Failed to parse request body', code: 'PARSE_ERROR' });
    const body = await expectCleanError(await rpc('{"json": '), 400);
    expect(JSON.stringify(body)).toContain('Failed to parse request body');
  });

  it('a content type that is not JSON: 415 on both surfaces', async () => {
    const message = 'Content-Type must be application/json';
    expect(await expectCleanError(await rest(json(valid), 'text/plain'), 415)).toEqual({ message, code: 'UNSUPPORTED_MEDIA_TYPE' });
    const onTrpc = await expectCleanError(await rpc(wrap(valid), 'application/x-www-form-urlencoded'), 415);
    expect(onTrpc).toMatchObject({ error: { json: { message, data: { code: 'UNSUPPORTED_MEDIA_TYPE', httpStatus: 415 } } } });
  });

  it('a body over the limit: 413 on tRPC too, with and without Content-Length', async () => {
    const big = wrap({ ...valid, name: 'x'.repeat(300_000) });
    await expectCleanError(await rpc(big), 413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = rawRequest(
        `${t.baseUrl}/trpc/patient.create`,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 40; i++) req.write('x'.repeat(8192));
      req.end();
    });
    expect(chunked).toBe(413);
  });

  it('memory stays flat while oversized bodies are refused', async () => {
    const send = () =>
      new Promise<void>((resolve) => {
        const req = rawRequest(`${t.baseUrl}/patients`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', () => resolve());
        const chunk = Buffer.alloc(64 * 1024, 120);
        let sent = 0;
        const pump = () => {
          while (sent < 4 * 1024 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
    // A few first: the allocator's and the runtime's first growth is not what this is about.
    for (let i = 0; i < 5; i++) await send();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 50; i++) await send(); // 200 MB offered in all
    // Bodies kept by the server would grow it by up to 200 MB; the garbage this process makes
    // itself (the test client shares it) and collects when it likes measured up to about 80 MB.
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(120 * 1024 * 1024);
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
  });

  it('oversized headers and URLs are refused (431) without hurting the next request', async () => {
    const big = 'a'.repeat(12_000);
    expect((await fetch(`${t.baseUrl}/patients?q=${big}`)).status).toBe(431);
    expect((await fetch(`${t.baseUrl}/health`, { headers: { 'x-big': big } })).status).toBe(431);
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
  });

  it('garbage on the socket affects no other connection', async () => {
    const port = Number(new URL(t.baseUrl).port);
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('GARBAGE \x00\x01\r\n\r\n'));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 500);
    });
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
  });

  it('a slow-drip body is cut off with 408 after REQUEST_TIMEOUT_MS', async () => {
    const result = await new Promise<{ status: number; ms: number }>((resolve, reject) => {
      const started = Date.now();
      const req = rawRequest(
        `${t.baseUrl}/patients`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '1000' } },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, ms: Date.now() - started });
        },
      );
      req.on('error', reject);
      const drip = setInterval(() => req.write(' '), 200);
      req.on('close', () => clearInterval(drip));
      setTimeout(() => clearInterval(drip), 5000);
    });
    expect(result.status).toBe(408);
    expect(result.ms).toBeLessThan(3000);
  });

  it('bad list queries are 400, never 500', async () => {
    // Parameters named like Object.prototype members are unknown fields: ignored, like json-server.
    for (const q of ['toString=', '__proto__=x', 'constructor=1&hasOwnProperty=2']) {
      expect((await fetch(`${t.baseUrl}/patients?${q}`)).status, q).toBe(200);
    }
    for (const q of [
      'name_like=(',
      'name_like=[',
      'name_like=a{2,1}',
      'name_like=(?<n>a)',
      '_limit=-1',
      '_start=abc&_end=2',
      '_page=1&_limit=-5',
    ]) {
      await expectCleanError(await fetch(`${t.baseUrl}/patients?${q}`), 400);
    }
  });
});

describe('generated input (fast-check)', () => {
  const fieldValue = fc.oneof(
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom('Male', 'Female', 'Other', '2024-01-01', '2024-02-29', '2023-02-29', '', '0', '-1', '151'),
    fc.array(fc.string(), { maxLength: 3 }),
  );
  const keys = ['patientID', 'name', 'age', 'gender', 'medicalCondition', 'lastVisit', 'id', 'createdAt', 'extra'];
  const body = fc.oneof(
    fc.dictionary(fc.constantFrom(...keys), fieldValue, { maxKeys: 9 }),
    fc.record({
      patientID: fc.string({ minLength: 1, maxLength: 60 }),
      name: fc.string({ minLength: 1, maxLength: 300 }),
      age: fc.integer({ min: -10, max: 200 }),
      gender: fc.constantFrom('Male', 'Female', 'Other', 'male', 'X'),
      medicalCondition: fc.string({ minLength: 0, maxLength: 260 }),
      lastVisit: fc.oneof(fc.constantFrom('2024-01-01', '2024-02-30', '1999-12-31', '0000-01-01'), fc.string()),
    }),
    fc.jsonValue(),
  );

  it('bodies: never a 5xx on either surface, and only valid rows are ever stored', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), async (b, viaTrpc) => {
        const res = viaTrpc ? await rpc(wrap(b)) : await rest(json(b));
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
      }),
      { numRuns: 150 },
    );
    const rows = await fetch(`${t.baseUrl}/patients`).then((r) => r.json() as Promise<unknown[]>);
    for (const row of rows) expect(patientOutput.safeParse(row).success).toBe(true);
    const raw = await t.db.query<{ bad: string }>(
      `select count(*) as bad from patients where age < 0 or age > 150 or gender not in ('Male','Female','Other') or length(trim(name)) = 0`,
    );
    expect(raw[0]?.bad).toBe('0');
  });

  it('query strings: never a 5xx', async () => {
    const key = fc.oneof(
      fc.constantFrom('id', 'name', 'age', 'gender', 'lastVisit', 'q', '_sort', '_order', '_page', '_limit', '_start', '_end', 'foo'),
      fc.constantFrom('name_like', 'age_gte', 'age_lte', 'lastVisit_gte', 'id_ne', 'patientID_like', 'name[]'),
      fc.string({ maxLength: 12 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, fc.string({ maxLength: 20 })), { maxLength: 6 }), async (pairs) => {
        const qs = new URLSearchParams(pairs).toString();
        const res = await fetch(`${t.baseUrl}/patients?${qs}`);
        expect(res.status, qs).toBeLessThan(500);
        await res.arrayBuffer();
      }),
      { numRuns: 200 },
    );
  });
});

describe('error boundary', () => {
  it('an unexpected database error is a generic 500 on both surfaces, and the log says only its class', async () => {
    await t.db.query('alter table patients rename column medical_condition to mc_renamed');
    try {
      const res = await fetch(`${t.baseUrl}/patients`);
      const body = await expectCleanError(res, 500);
      expect(body).toEqual({ message: 'Internal server error', code: 'INTERNAL_SERVER_ERROR' });
      const viaRpc = await fetch(`${t.baseUrl}/trpc/patient.list`);
      const text = await viaRpc.text();
      expect(viaRpc.status).toBe(500);
      expect(text).toContain('Internal server error');
      expect(text).not.toMatch(/medical_condition|mc_renamed|column|select/i);
      expect(t.logs.join('\n')).not.toMatch(/medical_condition"? does not exist|select .* from/i);
    } finally {
      await t.db.query('alter table patients rename column mc_renamed to medical_condition');
    }
    expect((await fetch(`${t.baseUrl}/patients`)).status).toBe(200);
  });
});

describe('concurrency and aborts', () => {
  it('200 concurrent creates all succeed with distinct ids, and all are stored', async () => {
    const before = await count();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        rest(json({ ...valid, patientID: `C${i}` })).then(async (r) => ({ status: r.status, id: ((await r.json()) as { id: number }).id })),
      ),
    );
    // Any other status is listed (a 408 or a 503 says which limit was hit).
    expect(results.filter((r) => r.status !== 201).map((r) => r.status)).toEqual([]);
    expect(new Set(results.map((r) => r.id)).size).toBe(200);
    expect(await count()).toBe(before + 200);
  });

  it('hundreds of client aborts mid-body and mid-query: the server keeps serving and the pool drains', async () => {
    const port = Number(new URL(t.baseUrl).port);
    const midBody = () =>
      new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.write('POST /patients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"patientID":');
          setTimeout(() => {
            s.destroy();
            resolve();
          }, 2);
        });
        s.on('error', () => resolve());
      });
    const midQuery = async () => {
      const ac = new AbortController();
      const p = fetch(`${t.baseUrl}/patients?q=a&_sort=name`, { signal: ac.signal }).catch(() => undefined);
      setTimeout(() => ac.abort(), Math.random() * 5);
      await p;
    };
    for (let round = 0; round < 10; round++) {
      await Promise.all([...Array.from({ length: 15 }, midBody), ...Array.from({ length: 15 }, midQuery)]);
    }
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/patients?_limit=1`)).status).toBe(200);
    const pool = (t.app.db.orm.em.getConnection().getKnex().client as { pool: { numUsed(): number; numPendingAcquires(): number } }).pool;
    const deadline = Date.now() + 5000;
    while (pool.numUsed() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(pool.numUsed()).toBe(0);
    expect(pool.numPendingAcquires()).toBe(0);
  });
});

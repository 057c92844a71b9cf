/**
 * AUDIT_READS=true: every answer that carries patient data is recorded in patient_reads (actor,
 * procedure, time, the requests it went to, patient ids or a list's count), never the data;
 * written in groups off the request's path, with bounded memory, and flushed on SIGTERM.
 */
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createReadAudit } from '../src/db/read-audit.ts';
import { createSqlClient } from '../src/db/sql-client.ts';
import { postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { createTestDatabase, RESET_TABLES } from './support/database.ts';
import { startServerProcess } from './support/process.ts';

const TOKEN = 'auditor-token-0123456789abcdef';
interface ReadRow {
  actor: string;
  route: string;
  request_ids: string[];
  patient_ids: number[] | null;
  count: number | null;
}

describe('AUDIT_READS=true', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ AUDIT_READS: 'true', COALESCE_READS: 'true', API_TOKENS: `nurse:${TOKEN}` });
  });
  afterAll(() => t?.stop());
  beforeEach(() => t.db.query(RESET_TABLES));

  const auth = { authorization: `Bearer ${TOKEN}` };
  const get = (path: string, requestId: string) => fetch(`${t.baseUrl}${path}`, { headers: { ...auth, 'x-request-id': requestId } });
  const reads = async () => {
    await t.app.readAudit!.flush();
    return t.db.query<ReadRow>('select actor, route, request_ids, patient_ids, count from patient_reads order by id');
  };

  it('records who was answered which patients, by which procedure: ids for records, a count for lists, never the data', async () => {
    const created = await postJson(t.baseUrl, '/patients', samplePatient({ patientID: 'A1', name: 'Audit Subject' }), {
      ...auth,
      'x-request-id': 'r-create',
    });
    const { id } = (await created.json()) as { id: number };
    await postJson(t.baseUrl, '/patients', samplePatient({ patientID: 'A2' }), { ...auth, 'x-request-id': 'r-create-2' });
    expect((await get(`/patients/${id}`, 'r-byid')).status).toBe(200);
    expect((await get('/patients?_limit=5', 'r-list')).status).toBe(200);
    expect((await get(`/patients/${id}/history`, 'r-history')).status).toBe(200);
    expect((await get('/patients/999', 'r-missing')).status).toBe(404);

    const rows = await reads();
    expect(rows).toEqual([
      { actor: 'nurse', route: 'patient.create', request_ids: ['r-create'], patient_ids: [id], count: null },
      { actor: 'nurse', route: 'patient.create', request_ids: ['r-create-2'], patient_ids: [id + 1], count: null },
      { actor: 'nurse', route: 'patient.byId', request_ids: ['r-byid'], patient_ids: [id], count: null },
      { actor: 'nurse', route: 'patient.list', request_ids: ['r-list'], patient_ids: null, count: 2 },
      { actor: 'nurse', route: 'patient.historyList', request_ids: ['r-history'], patient_ids: [id], count: null },
    ]);
    const everything = JSON.stringify(await t.db.query('select * from patient_reads'));
    expect(everything).not.toContain('Audit Subject');
    expect(everything).not.toContain('A1');
    for (const line of t.logs) expect(line).not.toContain('Audit Subject');
  });

  it('identical GETs answered together (coalesced) are each recorded: one row naming every request', async () => {
    const { id } = (await (await postJson(t.baseUrl, '/patients', samplePatient({ patientID: 'C1' }), auth)).json()) as { id: number };
    const ids = Array.from({ length: 40 }, (_, i) => `r-same-${i}`);
    const answers = await Promise.all(ids.map((rid) => get(`/patients/${id}`, rid)));
    for (const a of answers) expect(a.status).toBe(200);
    const byId = (await reads()).filter((r) => r.route === 'patient.byId');
    expect(byId.flatMap((r) => r.request_ids).sort()).toEqual([...ids].sort());
    for (const row of byId) expect(row.patient_ids).toEqual([id]);
  });

  it('under steady load writes one insert per interval, not one per round trip; flush writes the rest', async () => {
    let inserts = 0;
    const sql = t.app.db.sql;
    const counting = {
      maxWaitMs: sql.maxWaitMs,
      query: (text: string, params?: readonly unknown[]) => {
        inserts++;
        return sql.query(text, params);
      },
    };
    const audit = createReadAudit(counting as typeof sql, pino({ level: 'silent' }), { flushMs: 50 });
    let recorded = 0;
    const started = performance.now();
    while (performance.now() - started < 400) {
      for (let i = 0; i < 5; i++)
        audit.record({ actor: 'steady', route: 'patient.byId', requestIds: [`s${recorded}`], patientIds: [recorded++] });
      await new Promise((r) => setTimeout(r, 2));
    }
    const during = inserts;
    await audit.flush();
    // About 400 / 50 intervals: a write loop that kept going while entries arrived made one per round trip.
    expect(during).toBeGreaterThan(0);
    expect(during).toBeLessThanOrEqual(12);
    const [stored] = await t.db.query<{ n: number }>("select count(*)::int as n from patient_reads where actor = 'steady'");
    expect(stored!.n).toBe(recorded);
  });

  it('rows are append-only', async () => {
    await get('/patients', 'r-x');
    await reads();
    await expect(t.db.query(`update patient_reads set actor = 'x'`)).rejects.toMatchObject({ code: '42501' });
    await expect(t.db.query('delete from patient_reads')).rejects.toMatchObject({ code: '42501' });
    await expect(t.db.query('truncate patient_reads')).rejects.toMatchObject({ code: '42501' });
    expect((await reads()).length).toBeGreaterThan(0);
  });
});

describe('AUDIT_READS off (the default)', () => {
  it('records nothing', async () => {
    const t = await startTestApp();
    try {
      await postJson(t.baseUrl, '/patients', samplePatient());
      await fetch(`${t.baseUrl}/patients/1`);
      expect(t.app.readAudit).toBeUndefined();
      expect(await t.db.query('select * from patient_reads')).toEqual([]);
    } finally {
      await t.stop();
    }
  });
});

describe('the audit buffer', () => {
  it('is bounded: while the database is away, entries past the bound are dropped (counted and logged, no values), and the requests never wait', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const pool = new pg.Pool({ connectionString: 'postgresql://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 200 });
    pool.on('error', () => undefined);
    const audit = createReadAudit(createSqlClient({ pool, maxWaitMs: 200 }), logger, { maxBuffered: 10, flushMs: 10_000 });
    const started = performance.now();
    for (let i = 0; i < 25; i++) audit.record({ actor: 'a', route: 'patient.byId', requestIds: [`r${i}`], patientIds: [i] });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(audit.dropped).toBe(15);
    await audit.flush();
    expect(lines.some((l) => l.includes('buffer full'))).toBe(true);
    expect(lines.some((l) => l.includes('write failed'))).toBe(true);
    await pool.end();
  });

  it('is written on SIGTERM: a read answered just before the stop is in the table after exit', async () => {
    const db = await createTestDatabase();
    try {
      const server = startServerProcess({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true', AUDIT_READS: 'true' });
      const port = await server.listening;
      const res = await fetch(`http://127.0.0.1:${port}/patients`, { headers: { 'x-request-id': 'r-last' } });
      expect(res.status).toBe(200);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(await db.query('select route, request_ids from patient_reads')).toEqual([{ route: 'patient.list', request_ids: ['r-last'] }]);
    } finally {
      await db.drop();
    }
  });
});

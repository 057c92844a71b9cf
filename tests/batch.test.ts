/**
 * Grouped statements: creates, changes of one patient and reads by id that arrive together are
 * each run as one statement, and each caller still gets exactly the answer it would have had alone.
 */
import { describe, expect, it } from 'vitest';
import type { ListQuery } from '../src/core/list-query.ts';
import { listJson } from '../src/core/list-sql.ts';
import { createInsertGroups, createPageGroups, createReadGroups, createUpdateGroups } from '../src/core/record-groups.ts';
import { recordSql } from '../src/core/record-sql.ts';
import { DatabaseBusyError, DatabaseError } from '../src/db/errors.ts';
import type { SqlClient } from '../src/db/sql-client.ts';
import { patients } from '../src/patients/patient.fields.ts';
import type { PatientDto, PatientInput } from '../src/patients/patient.schemas.ts';
import { useOpenedTestDatabase } from './support/database.ts';

const opened = useOpenedTestDatabase();

const statements = recordSql<PatientDto, PatientInput>(patients);
/** Every write here is recorded as made by this test (its events are checked in tests/history.test.ts). */
const AUDIT = { actor: 'batch-test', requestId: null };
const createInsertBatcher = (sql: SqlClient) => {
  const groups = createInsertGroups(sql, statements);
  return { insert: (input: PatientInput) => groups.insert(input, AUDIT) };
};
const createUpdateBatcher = (sql: SqlClient) => {
  const groups = createUpdateGroups(sql, statements, patients.uniqueNames);
  return { update: (id: number, fields: Partial<PatientInput>) => groups.update(id, { fields, op: 'update', audit: AUDIT }) };
};
/** Group reads, each answer's JSON text parsed back into the record with its version. */
const createReadBatcher = (sql: SqlClient) => {
  const groups = createReadGroups(sql, statements as unknown as Parameters<typeof createReadGroups>[1]);
  return {
    byId: async (id: number): Promise<(PatientDto & { version: number }) | undefined> => {
      const found = await groups.byId(id);
      return found && { ...(JSON.parse(found.json) as PatientDto), version: found.version as number };
    },
  };
};
/** A statement refused by PostgreSQL with this SQLSTATE. */
const refusedWith = (sqlState: string) => expect.objectContaining({ name: 'DatabaseError', sqlState });
const UNIQUE = '23505';
const CHECK = '23514';

const patient = (patientID: string, overrides: Partial<PatientInput> = {}): PatientInput => ({
  patientID,
  name: `Name ${patientID} "quoted", {braced} \\ back`,
  age: 30,
  gender: 'Other',
  medicalCondition: 'Checkup',
  lastVisit: '2024-01-15',
  ...overrides,
});

/** The real SQL client, counting the statements it runs. */
function counting(sql: SqlClient) {
  const statements: string[] = [];
  const client: SqlClient = {
    maxWaitMs: sql.maxWaitMs,
    query(text, params) {
      statements.push(text);
      return sql.query(text, params);
    },
  };
  return { client, statements };
}

/** The real SQL client, but its first statement is held until `open()`; counts the statements. */
function stuckFirst(maxWaitMs: number) {
  const statements: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const client: SqlClient = {
    maxWaitMs,
    async query(text, params) {
      statements.push(text);
      if (statements.length === 1) await gate;
      return opened.db.sql.query(text, params);
    },
  };
  return { client, statements, open };
}

/** The real SQL client, but the first statement's answer (already read) is held until `open()`. */
function holdingFirstAnswer() {
  let read!: () => void;
  const hasRead = new Promise<void>((resolve) => (read = resolve));
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let held = false;
  const client: SqlClient = {
    maxWaitMs: 10_000,
    async query<R>(text: string, params?: readonly unknown[]) {
      const rows = await opened.db.sql.query<R>(text, params);
      if (!held) {
        held = true;
        read();
        await gate;
      }
      return rows;
    },
  };
  return { client, hasRead, open };
}

const stored = () =>
  opened.tdb.query<{ id: number; patient_id: string; name: string; last_visit: string }>(
    `select id, patient_id, name, to_char(last_visit, 'YYYY-MM-DD') as last_visit from patients order by id`,
  );

describe('insert batcher', () => {
  it('writes concurrent creates in fewer statements than creates, each id naming its own row', async () => {
    const { client, statements } = counting(opened.db.sql);
    const batcher = createInsertBatcher(client);
    const inputs = Array.from({ length: 40 }, (_, i) =>
      patient(`B-${i}`, { age: i, lastVisit: `2024-02-${String((i % 28) + 1).padStart(2, '0')}` }),
    );
    const created = await Promise.all(inputs.map((input) => batcher.insert(input)));
    const ids = created.map((row) => row.id);

    expect(new Set(ids).size).toBe(40);
    expect(statements.length).toBeLessThan(40);
    expect(statements.some((s) => s.includes('unnest'))).toBe(true);
    const rows = new Map((await stored()).map((r) => [r.id, r]));
    inputs.forEach((input, i) => {
      const row = rows.get(ids[i]!)!;
      expect(row.patient_id).toBe(input.patientID);
      expect(row.name).toBe(input.name);
      expect(row.last_visit).toBe(input.lastVisit);
      expect(created[i]).toEqual({ ...input, id: ids[i], version: 1 });
    });
  });

  it('a failing row fails only its own create: duplicates and constraint violations are answered one by one', async () => {
    const batcher = createInsertBatcher(opened.db.sql);
    await batcher.insert(patient('TAKEN'));
    const inputs = [
      ...Array.from({ length: 10 }, (_, i) => patient(`OK-${i}`)),
      patient('TAKEN'),
      patient('TWICE'),
      patient('TWICE'),
      patient('BAD-AGE', { age: 500 }),
    ];
    const results = await Promise.allSettled(inputs.map((input) => batcher.insert(input)));

    for (const r of results.slice(0, 10)) expect(r.status).toBe('fulfilled');
    const reason = (r: PromiseSettledResult<unknown>) => (r.status === 'rejected' ? r.reason : undefined);
    expect(reason(results[10]!)).toEqual(refusedWith(UNIQUE));
    const twice = results.slice(11, 13);
    expect(twice.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(twice.map(reason).find(Boolean)).toEqual(refusedWith(UNIQUE));
    expect(reason(results[13]!)).toEqual(refusedWith(CHECK));

    const ids = (await stored()).map((r) => r.patient_id).sort();
    expect(ids).toEqual(['TAKEN', 'TWICE', ...Array.from({ length: 10 }, (_, i) => `OK-${i}`)].sort());
  });

  it('a create alone is written at once, in one statement', async () => {
    const { client, statements } = counting(opened.db.sql);
    const batcher = createInsertBatcher(client);
    const { id } = await batcher.insert(patient('SOLO'));
    expect(statements).toHaveLength(1);
    expect((await stored()).map((r) => [r.id, r.patient_id])).toEqual([[id, 'SOLO']]);
  });
  it('answers each create with its own stored row, matched by position: values rewritten by the database, equal patientIDs, a row not stored', async () => {
    // The database stores other values than those sent: the row's id is appended to its patientID
    // (so equal patientIDs become distinct rows) and the name is upper-cased; a create named
    // 'skip me' is silently not stored. Nothing in a stored row equals its input's patientID.
    await opened.tdb.query(`create function test_rewrite() returns trigger language plpgsql as $$
      begin
        if new.name = 'skip me' then return null; end if;
        new.patient_id := new.patient_id || '#' || new.id;
        new.name := upper(new.name);
        return new;
      end $$`);
    await opened.tdb.query('create trigger test_rewrite before insert on patients for each row execute function test_rewrite()');
    try {
      // The first create holds the statement, so the twelve behind it are written by one statement.
      const { client, statements, open } = stuckFirst(10_000);
      const batcher = createInsertBatcher(client);
      const first = batcher.insert(patient('FIRST'));
      const inputs = Array.from({ length: 12 }, (_, i) =>
        patient(i % 3 === 0 ? 'SAME' : `POS-${i}`, { age: i, name: i === 7 ? 'skip me' : `name ${i}` }),
      );
      const settled = Promise.allSettled(inputs.map((input) => batcher.insert(input)));
      open();
      await first;
      const results = await settled;

      expect(statements).toHaveLength(2);
      expect(statements[1]).toContain('unnest');
      expect(results[7]?.status).toBe('rejected');
      const reads = createReadBatcher(opened.db.sql);
      for (const [i, result] of results.entries()) {
        if (i === 7) continue;
        expect(result.status, `create #${i}`).toBe('fulfilled');
        const row = (result as PromiseFulfilledResult<PatientDto>).value;
        expect(row).toMatchObject({ patientID: `${inputs[i]!.patientID}#${row.id}`, name: `NAME ${i}`, age: i });
        expect(await reads.byId(row.id)).toEqual(row);
      }
      expect(await stored()).toHaveLength(12);
    } finally {
      await opened.tdb.query('drop trigger test_rewrite on patients; drop function test_rewrite()');
    }
  });
});

/** A patient to change, another one holding `rival`'s patientID, and an update batcher. */
async function patientWithRival(own: string, rival: string) {
  const inserts = createInsertBatcher(opened.db.sql);
  const { id } = await inserts.insert(patient(own));
  await inserts.insert(patient(rival));
  return { id, updates: createUpdateBatcher(opened.db.sql) };
}

describe('update batcher', () => {
  it('concurrent changes of one patient: fewer statements, and each answer is the row right after that change', async () => {
    const { id } = await createInsertBatcher(opened.db.sql).insert(patient('U-1', { name: 'Original' }));
    const { client, statements } = counting(opened.db.sql);
    const updates = createUpdateBatcher(client);
    const changes = Array.from({ length: 20 }, (_, i) => (i % 5 === 4 ? { age: i, name: `Name-${i}` } : { age: i }));
    const rows = await Promise.all(changes.map((change) => updates.update(id, change)));

    expect(statements.length).toBeLessThan(20);
    rows.forEach((row, i) => {
      const lastNamed = [...changes.slice(0, i + 1)].reverse().find((c) => 'name' in c) as { name?: string } | undefined;
      expect(row).toEqual({
        id,
        patientID: 'U-1',
        name: lastNamed?.name ?? 'Original',
        age: i,
        gender: 'Other',
        medicalCondition: 'Checkup',
        lastVisit: '2024-01-15',
        // Each merged change is a version of its own: created at 1, then one per change.
        version: i + 2,
      });
    });
    const [final] = await opened.tdb.query<{ age: number; name: string }>('select age, name from patients where id = $1', [id]);
    expect(final).toEqual({ age: 19, name: 'Name-19' });
  });

  it('one failing change among queued ones fails alone; the others apply in order', async () => {
    const { id, updates } = await patientWithRival('U-2', 'TAKEN-2');
    const first = updates.update(id, { age: 1 });
    const queued = [updates.update(id, { age: 2 }), updates.update(id, { patientID: 'TAKEN-2', age: 99 }), updates.update(id, { age: 3 })];
    expect((await first)?.age).toBe(1);
    const [a, b, c] = await Promise.allSettled(queued);
    expect(a).toMatchObject({ status: 'fulfilled', value: { age: 2, patientID: 'U-2' } });
    expect(b?.status === 'rejected' && (b.reason as unknown)).toEqual(refusedWith(UNIQUE));
    expect(c).toMatchObject({ status: 'fulfilled', value: { age: 3, patientID: 'U-2' } });
    const [row] = await opened.tdb.query<{ age: number; patient_id: string }>('select age, patient_id from patients where id = $1', [id]);
    expect(row).toEqual({ age: 3, patient_id: 'U-2' });
  });

  it('queued patientID changes are never merged: a clash is reported even when a later change would hide it', async () => {
    const { id, updates } = await patientWithRival('U-3', 'TAKEN-3');
    const first = updates.update(id, { age: 1 });
    const clash = updates.update(id, { patientID: 'TAKEN-3' });
    const free = updates.update(id, { patientID: 'FREE-3' });
    await first;
    await expect(clash).rejects.toEqual(refusedWith(UNIQUE));
    expect(await free).toMatchObject({ patientID: 'FREE-3', age: 1 });
    const [row] = await opened.tdb.query<{ patient_id: string }>('select patient_id from patients where id = $1', [id]);
    expect(row?.patient_id).toBe('FREE-3');
  });

  it('behind a stuck statement, a waiting change leaves with 503 after the acquire timeout and is never written; the next one applies', async () => {
    const { id } = await createInsertBatcher(opened.db.sql).insert(patient('U-STUCK', { age: 1 }));
    const { client, statements, open } = stuckFirst(1000);
    const updates = createUpdateBatcher(client);
    const first = updates.update(id, { age: 2 });
    await expect(updates.update(id, { age: 3, name: 'Never' })).rejects.toBeInstanceOf(DatabaseBusyError);
    const next = updates.update(id, { age: 4 });
    open();
    expect((await first)?.age).toBe(2);
    expect(await next).toMatchObject({ age: 4, name: patient('U-STUCK').name });
    const [row] = await opened.tdb.query<{ age: number; name: string }>('select age, name from patients where id = $1', [id]);
    expect(row).toEqual({ age: 4, name: patient('U-STUCK').name });
    expect(statements).toHaveLength(2);
  });

  it('changes of an unknown patient all answer "no such patient"', async () => {
    const updates = createUpdateBatcher(opened.db.sql);
    const rows = await Promise.all([1, 2, 3].map((age) => updates.update(424242, { age })));
    expect(rows).toEqual([undefined, undefined, undefined]);
  });
});

describe('read batcher', () => {
  it('concurrent reads of different patients: fewer statements than reads, each answer its own patient', async () => {
    const inserts = createInsertBatcher(opened.db.sql);
    const ids = (await Promise.all(Array.from({ length: 30 }, (_, i) => inserts.insert(patient(`R-${i}`, { age: i }))))).map(
      (row) => row.id,
    );
    const { client, statements } = counting(opened.db.sql);
    const reads = createReadBatcher(client);
    const asked = [...ids, 424242, ids[3]!, ids[3]!];
    const rows = await Promise.all(asked.map((id) => reads.byId(id)));

    expect(statements).toHaveLength(2); // the first read alone, then the 32 that waited for it, together
    for (const [i, id] of ids.entries()) expect(rows[i]).toEqual({ ...patient(`R-${i}`, { age: i }), id, version: 1 });
    expect(rows[30]).toBeUndefined();
    // The same patient read twice in one group: equal answers.
    expect(rows[31]).toEqual(rows[32]);
  });

  it('a read never joins a statement already sent: it sees a write acknowledged before it was asked', async () => {
    const { id } = await createInsertBatcher(opened.db.sql).insert(patient('R-FRESH', { age: 1 }));
    // The first statement has read the row, but its answer is held back until the write is done.
    const { client, hasRead, open } = holdingFirstAnswer();
    const reads = createReadBatcher(client);
    const before = reads.byId(id);
    await hasRead;
    await opened.tdb.query('update patients set age = 2 where id = $1', [id]);
    const after = reads.byId(id);
    open();
    expect((await before)?.age).toBe(1);
    expect((await after)?.age).toBe(2);
  });

  it('a failure is the answer of every read grouped in the failing statement', async () => {
    const statements: string[] = [];
    const failure = new Error('database away');
    const client: SqlClient = {
      maxWaitMs: 10_000,
      async query(text) {
        statements.push(text);
        await new Promise((r) => setTimeout(r, 5));
        throw failure;
      },
    };
    const reads = createReadBatcher(client);
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((id) => reads.byId(id)));
    expect(results.map((r) => r.status === 'rejected' && r.reason)).toEqual([failure, failure, failure, failure, failure]);
    expect(statements).toHaveLength(2); // the first read alone, then the four that waited, together
  });

  it('behind a stuck statement, a waiting read or create leaves with 503 after the acquire timeout, never having run', async () => {
    const stuckRead = stuckFirst(200);
    const reads = createReadBatcher(stuckRead.client);
    const first = reads.byId(1);
    const started = performance.now();
    await expect(reads.byId(2)).rejects.toBeInstanceOf(DatabaseBusyError);
    expect(performance.now() - started).toBeLessThan(5_000);
    stuckRead.open();
    expect(await first).toBeUndefined();
    expect(stuckRead.statements).toHaveLength(1);

    const stuckInsert = stuckFirst(200);
    const inserts = createInsertBatcher(stuckInsert.client);
    const written = inserts.insert(patient('Q-FIRST'));
    await expect(inserts.insert(patient('Q-LATE'))).rejects.toBeInstanceOf(DatabaseBusyError);
    stuckInsert.open();
    await written;
    expect((await stored()).map((r) => r.patient_id)).toEqual(['Q-FIRST']);
  });
});

describe('page batcher', () => {
  /** 60 patients: ages and genders repeat, so sorts have ties and filters match a part. */
  const seed = () =>
    opened.tdb.query(
      `insert into patients (patient_id, name, age, gender, medical_condition, last_visit)
       select 'P-' || n, (array['Zoë','ana','Émilie','Bob'])[1 + n % 4] || ' ' || n, n % 7, (array['Male','Female','Other'])[1 + n % 3],
              'c', date '2024-01-01' + n from generate_series(1, 60) as g(n)`,
    );
  const list = (over: Partial<ListQuery>): ListQuery => ({ where: [], sort: [], offset: 0, limit: 10, withTotal: true, ...over });
  /** Different slices of three lists (one unsorted, one filtered and sorted, one searched), and slices past the end. */
  const asked: ListQuery[] = [
    ...[0, 10, 20, 50, 55, 60, 70].map((offset) => list({ offset })),
    ...[0, 3, 9, 100].map((offset) =>
      list({ offset, limit: 3, where: [{ op: 'in', field: 'gender', values: ['Female'] }], sort: [{ field: 'age', desc: true }] }),
    ),
    ...[0, 5, 15].map((offset) => list({ offset, limit: 5, q: 'zoë', sort: [{ field: 'name', desc: false }] })),
    list({ offset: 4, limit: 4, withTotal: false }),
    list({ offset: 8, limit: 4, withTotal: false }),
    // The same filter and order with other values: one statement text, other answers.
    ...[['Male'], ['Other'], ['Male', 'Other'], ['Female']].flatMap((values) =>
      [0, 6].map((offset) =>
        list({ offset, limit: 6, where: [{ op: 'in', field: 'gender', values }], sort: [{ field: 'age', desc: true }] }),
      ),
    ),
    ...['^b', '^z', 'MIL'].map((pattern) => list({ offset: 1, limit: 2, where: [{ op: 'regex', field: 'name', pattern }] })),
  ];
  /** Each page as it is alone: one statement per page, one after the other. */
  const alone = async (queries: ListQuery[]) => {
    const results = [];
    for (const q of queries) results.push(await listJson(opened.db.sql, patients, q));
    return results;
  };

  it('concurrent pages of the same lists: fewer statements than pages, each answer the one it has alone', async () => {
    await seed();
    const expected = await alone(asked);
    const { client, statements } = counting(opened.db.sql);
    const pages = createPageGroups(client, patients);
    const answers = await Promise.all(asked.map((q) => pages.page(q)));

    expect(answers).toEqual(expected);
    // Each list's first page alone, then the pages that waited for it, together: one per list.
    expect(statements.length).toBeLessThan(asked.length);
    expect(statements.filter((s) => s.includes('unnest(')).length).toBeGreaterThan(0);
    // The answers mean something: the first unsorted page is ids 1..10 of 60, the filter matched 20.
    expect(JSON.parse(answers[0]!.json).map((p: PatientDto) => p.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(answers[0]!.total).toBe(60);
    expect(answers[7]!.total).toBe(20);
    expect(answers[6]).toEqual({ json: '[]', returned: 0, total: 60 });
    expect(answers[14]).toEqual(expect.not.objectContaining({ total: expect.anything() }));
    expect(answers.slice(16, 24).map((a) => a.total)).toEqual([20, 20, 20, 20, 40, 40, 20, 20]);
    expect(answers.slice(24).map((a) => JSON.parse(a.json).map((p: PatientDto) => p.name))).toEqual([
      ['Bob 7', 'Bob 11'],
      ['Zoë 8', 'Zoë 12'],
      ['Émilie 6', 'Émilie 10'],
    ]);
  });

  it("one page's bad value fails that page alone; the pages grouped with it get their answers", async () => {
    await seed();
    const regex = (pattern: string, offset = 0) => list({ offset, limit: 2, where: [{ op: 'regex', field: 'name', pattern }] });
    const asking = [regex('^a'), regex('^b', 1), regex('(unclosed'), regex('^z', 2), regex('^a', 2)];
    const expected = await alone([asking[0]!, asking[1]!, asking[3]!, asking[4]!]);
    const { client, statements } = counting(opened.db.sql);
    const pages = createPageGroups(client, patients);
    const answers = await Promise.allSettled(asking.map((q) => pages.page(q)));
    expect(answers[2]).toEqual({ status: 'rejected', reason: expect.objectContaining({ name: 'DatabaseError' }) });
    expect([0, 1, 3, 4].map((i) => answers[i])).toEqual(expected.map((value) => ({ status: 'fulfilled', value })));
    expect(statements.filter((s) => s.includes('union all'))).toHaveLength(1); // the group that failed, then each page alone
  });

  it('a page never joins a statement already sent: it sees a write acknowledged before it was asked', async () => {
    await seed();
    const { client, hasRead, open } = holdingFirstAnswer();
    const pages = createPageGroups(client, patients);
    const before = pages.page(list({ offset: 0, limit: 2 }));
    await hasRead;
    await opened.tdb.query("update patients set name = 'Changed' where id in (1, 3)");
    const after = [pages.page(list({ offset: 0, limit: 2 })), pages.page(list({ offset: 2, limit: 2 }))];
    open();
    expect(JSON.parse((await before).json).map((p: PatientDto) => p.name)).toEqual(['ana 1', 'Émilie 2']);
    const [first, second] = await Promise.all(after);
    expect(JSON.parse(first!.json).map((p: PatientDto) => p.name)).toEqual(['Changed', 'Émilie 2']);
    expect(JSON.parse(second!.json).map((p: PatientDto) => p.name)).toEqual(['Changed', 'Zoë 4']);
  });

  it('a grouped statement the database refuses (a timeout, say) is answered page by page, each page its own answer', async () => {
    await seed();
    const expected = await alone(asked);
    const statements: string[] = [];
    const client: SqlClient = {
      maxWaitMs: 10_000,
      async query<R>(text: string, params?: readonly unknown[]) {
        statements.push(text);
        // What PostgreSQL says when statement_timeout cancels a statement.
        if (text.includes('unnest(')) throw new DatabaseError('57014');
        return opened.db.sql.query<R>(text, params);
      },
    };
    const pages = createPageGroups(client, patients);
    expect(await Promise.all(asked.map((q) => pages.page(q)))).toEqual(expected);
    expect(statements.some((s) => s.includes('unnest('))).toBe(true);
  });

  it('a page that would fail alone never joins a group, and unlimited lists run alone', async () => {
    await seed();
    const { client, statements } = counting(opened.db.sql);
    const pages = createPageGroups(client, patients);
    const huge = list({ offset: Number.MAX_SAFE_INTEGER + 2 });
    const everything = list({ limit: null, withTotal: false });
    const answers = await Promise.allSettled(
      [list({}), huge, list({ offset: 10 }), everything, list({ offset: 20 })].map((q) => pages.page(q)),
    );
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', expect.any(String), 'fulfilled', 'fulfilled', 'fulfilled']);
    const [, , second, all, third] = answers.map((a) => (a.status === 'fulfilled' ? a.value : undefined));
    expect(JSON.parse(second!.json)[0].id).toBe(11);
    expect(JSON.parse(third!.json)[0].id).toBe(21);
    expect(all!.returned).toBe(60);
    const grouped = statements.filter((s) => s.includes('unnest('));
    expect(grouped).toHaveLength(1); // pages 2 and 3; the huge offset and the unlimited list each alone
    expect(statements).toHaveLength(4);
  });
});

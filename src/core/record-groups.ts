import { DatabaseError, isConstraintViolation } from '../db/errors.ts';
import { createGroupQueue, createKeyedGroupQueues, type Waiting } from '../db/group-queue.ts';
import type { SqlClient } from '../db/sql-client.ts';
import type { ListQuery } from './list-query.ts';
import { type JsonListResult, listJson, listJsonGroup, type PageShape, pageShape } from './list-sql.ts';
import { type Audit, type Change, definedOnly, type RecordJson, type RecordSql, type Row } from './record-sql.ts';
import type { Resource } from './resource.ts';

/**
 * Statement grouping: writes and reads by id that arrive together share one statement (one round
 * trip, one commit), while each caller still gets exactly the answer it would have had alone.
 */

/** Most rows in one statement (keeps statements and their parameter arrays small). */
const MAX_GROUP = 100;

/** Groups take every waiting member, up to MAX_GROUP. */
const upToMaxGroup = (waiting: readonly unknown[]) => Math.min(MAX_GROUP, waiting.length);

/**
 * Creates arriving together are written together ("group insert"), each still all-or-nothing.
 *
 * One insert statement is in flight at a time. The creates that arrive meanwhile are written by
 * the next statement, as one multi-row insert: one round trip and one commit for the group
 * instead of one each. Under low load a create is written at once, alone. A create that waits
 * longer than the pool's acquire timeout is not written and gets 503 (src/db/group-queue.ts).
 *
 * A multi-row insert is a single statement, so it stores all of its rows or none. When it breaks
 * a constraint (a unique value already taken, two creates of one value in the same group), every
 * create of the group is retried on its own, so each client gets exactly the answer it would have
 * had alone (201, 409) and no create fails because of another's data.
 * Any other failure (503, 504) is every create's answer, as it would have been alone.
 *
 * Each create is answered with its own row as stored, matched by its position in the statement,
 * never by a value (see insertMany in record-sql.ts): a row that was written always gets its answer.
 */
export interface InsertGroups<T, I> {
  /** Stores one record and resolves with the row as stored. */
  insert(input: I, audit: Audit): Promise<T>;
}

interface WaitingCreate<T, I> extends Waiting<T> {
  input: I;
  audit: Audit;
}

export function createInsertGroups<T extends Row, I extends Row>(sql: SqlClient, statements: RecordSql<T, I>): InsertGroups<T, I> {
  const writeAlone = (w: WaitingCreate<T, I>) => statements.insert(sql, w.input, w.audit).then(w.resolve, w.reject);

  const writeTogether = async (group: WaitingCreate<T, I>[]) => {
    let rows: (T | undefined)[];
    try {
      rows = await statements.insertMany(
        sql,
        group.map((w) => w.input),
        group.map((w) => w.audit),
      );
    } catch (error) {
      // A row broke a constraint, so nothing was stored: give every create its own answer. Any
      // other failure (database away, timeout) is every create's answer: retrying each alone
      // would only load a struggling database, and after a lost connection could store twice.
      if (isConstraintViolation(error)) await Promise.all(group.map(writeAlone));
      else for (const w of group) w.reject(error);
      return;
    }
    group.forEach((w, i) => {
      const row = rows[i];
      if (row) w.resolve(row);
      else w.reject(new Error('group insert stored no row for this create'));
    });
  };

  const push = createGroupQueue<WaitingCreate<T, I>>((group) => (group.length === 1 ? writeAlone(group[0]!) : writeTogether(group)), {
    groupSize: upToMaxGroup,
    maxWaitMs: sql.maxWaitMs,
  });

  return {
    insert: (input, audit) => new Promise<T>((resolve, reject) => push({ input, audit, resolve, reject })),
  };
}

/**
 * Changes to one record arriving together are written together, in arrival order.
 *
 * Updates of one row wait for each other in PostgreSQL anyway (row lock, one commit each). Here
 * one update per record is in flight at a time; the changes queued meanwhile are merged in
 * arrival order and written by one statement that also returns the row as it was before. Each
 * change then gets the row exactly as it stood after that change (the old row, then the queued
 * changes up to and including its own), the answer it would have had if the changes had run
 * one after another. When the merged statement breaks a constraint, the changes are run again one
 * by one, in order, each with its own answer. A change of a unique field is never merged.
 * Changes arrive validated by the API schema; beyond it the database checks only uniqueness.
 * A change that waits longer than the pool's acquire timeout is not written and gets 503
 * (src/db/group-queue.ts); the changes after it apply as if it had never been sent.
 */
export interface UpdateGroups<T, I> {
  /** Sets the given fields; resolves with the row after this change, undefined when no such id. */
  update(id: number, change: Change<I>): Promise<T | undefined>;
}

interface QueuedChange<T, I> extends Waiting<T | undefined>, Change<I> {}

/** `uniqueFields`: fields whose change may clash with another record (never merged, see nextGroupSize). */
export function createUpdateGroups<T extends Row, I extends Row>(
  sql: SqlClient,
  statements: RecordSql<T, I>,
  uniqueFields: readonly string[],
): UpdateGroups<T, I> {
  const groupSize = nextGroupSize(uniqueFields);

  const runAlone = (id: number, c: QueuedChange<T, I>) => statements.update(sql, id, c).then(c.resolve, c.reject);

  const runTogether = async (id: number, changes: QueuedChange<T, I>[]) => {
    const sets = changes.map((c) => definedOnly(c.fields));
    let old: T | undefined;
    try {
      old = await statements.updateAll(sql, id, changes);
    } catch (error) {
      // A constraint was broken, so nothing was written: replay the changes one by one, in order.
      // Any other failure is every change's answer (see the insert groups).
      if (isConstraintViolation(error)) for (const c of changes) await runAlone(id, c);
      else for (const c of changes) c.reject(error);
      return;
    }
    let state = old;
    changes.forEach((c, i) => {
      // Each change is a version of its own (the statement added one per change).
      if (state) state = { ...state, ...sets[i], ...('version' in state ? { version: (old!.version as number) + i + 1 } : {}) };
      c.resolve(state);
    });
  };

  /** A queue per record with changes in flight; gone when they are all written. */
  const push = createKeyedGroupQueues<number, QueuedChange<T, I>>(
    (id, group) => (group.length === 1 ? runAlone(id, group[0]!) : runTogether(id, group)),
    { groupSize, maxWaitMs: sql.maxWaitMs },
  );

  return {
    update: (id, change) => new Promise((resolve, reject) => push(id, { ...change, resolve, reject })),
  };
}

/**
 * Reads of single records arriving together are answered by one statement ("group read").
 *
 * One read is in flight at a time; the reads that arrive meanwhile are answered together by the
 * next, `where id = any($1)`: one round trip for the group instead of one each. A read never joins
 * a statement already sent, so it sees every write acknowledged before it arrived, as alone. A read
 * that arrives while none is in flight runs at once, alone. A failure (database away, timeout) is
 * every grouped read's answer, as it would have been alone; a read that waits longer than the
 * pool's acquire timeout gets 503 (src/db/group-queue.ts).
 */
export interface ReadGroups {
  /** The record with this id as PostgreSQL serialised it; undefined when there is none. */
  byId(id: number): Promise<RecordJson | undefined>;
}

interface WaitingRead extends Waiting<RecordJson | undefined> {
  id: number;
}

export function createReadGroups(sql: SqlClient, statements: RecordSql<Row, Row>): ReadGroups {
  const push = createGroupQueue<WaitingRead>(
    async (group) => {
      const rows = await statements.byIdsJson(
        sql,
        group.map((r) => r.id),
      );
      const found = new Map(rows.map((row) => [row.id, row]));
      // Two reads of one id may get the same answer: it holds only immutable values.
      for (const r of group) r.resolve(found.get(r.id));
    },
    { groupSize: upToMaxGroup, maxWaitMs: sql.maxWaitMs },
  );
  return {
    byId: (id) => new Promise((resolve, reject) => push({ id, resolve, reject })),
  };
}

/**
 * How many queued changes to merge: up to MAX_GROUP, but a change of a unique field (the
 * descriptor's `unique` fields) runs alone. It is what can clash with another record, and in a merged statement a
 * later change of it would hide an earlier one's clash (that client would get 200 for a value
 * never stored).
 */
function nextGroupSize(uniqueFields: readonly string[]) {
  // A change that expects a version is checked on its own, so a stale one fails alone.
  const changesUnique = (c: { fields: Row; expectedVersion?: number }) =>
    c.expectedVersion !== undefined || uniqueFields.some((f) => c.fields[f] !== undefined);
  return (queue: readonly { fields: Row; expectedVersion?: number }[]): number => {
    if (changesUnique(queue[0]!)) return 1;
    const clash = queue.findIndex(changesUnique);
    return Math.min(MAX_GROUP, clash === -1 ? queue.length : clash);
  };
}

/**
 * Pages of one list arriving together are answered by one statement ("group page").
 *
 * Lists that differ only in their slice (`_page`, `_start`/`_end`, `offset`/`limit`) or in the
 * values of their filter (`gender=Male` and `gender=Female`) have one statement text (list-sql.ts,
 * pageShape). Per text, one statement is in flight at a time; the pages asked for meanwhile are
 * answered together by the next one, each page the same lateral subquery it would have been
 * alone, and each filter's total counted once. A page that arrives while none of its text is in
 * flight runs at once, alone (listJson), as does every page no other request shares. A page never
 * joins a statement already sent, so it sees every write acknowledged before it arrived.
 *
 * Each page gets exactly the answer it would have had alone: when a grouped statement fails with
 * a database error (a statement timeout, say: a group does the work of all its pages; or one
 * page's own bad value), each of its pages runs again alone, and a page that could fail on its
 * own because of its slice (beyond what the database's bigint holds) never joins a group. Groups
 * are bounded in pages, in rows and in distinct filter values.
 */
export interface PageGroups {
  page(query: ListQuery): Promise<JsonListResult>;
}

interface WaitingPage extends Waiting<JsonListResult> {
  query: ListQuery;
  shape: PageShape;
}

/** Most pages in one statement, most rows their slices may ask for together, most filter values (union branches). */
const MAX_PAGES = 32;
const MAX_GROUP_ROWS = 2_000;
const MAX_VALUE_SETS = 4;

/**
 * The oldest waiting pages, as long as their slices add up to at most MAX_GROUP_ROWS and they
 * have at most MAX_VALUE_SETS different filter values (at least one page; an unlimited page alone).
 */
const pagesGroupSize = (waiting: readonly WaitingPage[]) => {
  let rows = 0;
  let n = 0;
  const values = new Set<string>();
  for (const w of waiting) {
    if (n === MAX_PAGES) break;
    rows += w.query.limit ?? Number.POSITIVE_INFINITY;
    values.add(w.shape.valuesKey);
    if (n > 0 && (rows > MAX_GROUP_ROWS || values.size > MAX_VALUE_SETS)) break;
    n++;
  }
  return n;
};

/** A slice every page of a group can bind: safe integers (an out-of-range one fails alone). */
const groupable = (q: ListQuery) => Number.isSafeInteger(q.offset) && (q.limit === null || Number.isSafeInteger(q.limit));

export function createPageGroups(sql: SqlClient, r: Resource): PageGroups {
  const runAlone = (w: WaitingPage) => listJson(sql, r, w.query, w.shape).then(w.resolve, w.reject);

  const runTogether = async (group: WaitingPage[]) => {
    // The pages by filter values, in order of first appearance; answers come back in that order.
    const sets = new Map<string, WaitingPage[]>();
    for (const w of group) {
      const set = sets.get(w.shape.valuesKey);
      if (set) set.push(w);
      else sets.set(w.shape.valuesKey, [w]);
    }
    const ordered = [...sets.values()];
    let results: JsonListResult[];
    try {
      results = await listJsonGroup(
        sql,
        r,
        group[0]!.shape,
        ordered.map((pages) => ({ where: pages[0]!.shape.where, slices: pages.map((w) => w.query) })),
      );
    } catch (error) {
      if (error instanceof DatabaseError) await Promise.all(group.map(runAlone));
      else for (const w of group) w.reject(error);
      return;
    }
    ordered.flat().forEach((w, i) => {
      const result = results[i];
      if (result) w.resolve(result);
      else w.reject(new Error('group page returned no row for this page'));
    });
  };

  /** A queue per statement text with pages in flight. */
  const push = createKeyedGroupQueues<string, WaitingPage>(
    (_key, group) => (group.length === 1 ? runAlone(group[0]!) : runTogether(group)),
    {
      groupSize: pagesGroupSize,
      maxWaitMs: sql.maxWaitMs,
    },
  );

  return {
    page(query) {
      const shape = pageShape(r, query);
      if (!groupable(query)) return listJson(sql, r, query, shape);
      return new Promise((resolve, reject) => push(shape.key, { query, shape, resolve, reject }));
    },
  };
}

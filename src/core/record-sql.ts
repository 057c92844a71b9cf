import { arrayParam, arrayParams } from '../db/array-param.ts';
import type { SqlClient } from '../db/sql-client.ts';
import type { Resource } from './resource.ts';

/**
 * The single-record statements of a resource (by id, insert, update, delete), built from its
 * field descriptor. Every value is a bound parameter; every statement answers the row as stored,
 * in the API shape, never the input echoed.
 *
 * When the resource keeps a history (`history` in its descriptor), every write statement also
 * appends one event per change to the history table, in the same statement: a write that fails
 * writes no event, and an acknowledged write always has its event.
 */
export type Row = Record<string, unknown>;

/** Who made a change, and in which request (never the token itself). */
export interface Audit {
  actor: string;
  requestId: string | null;
}

/** An update's kind, as its event records it. */
export type ChangeOp = 'replace' | 'update';

/** A record as JSON text made by PostgreSQL (its fields, without the version), its id and version. */
export interface RecordJson {
  readonly id: number;
  /** Null when the resource has no version column. */
  readonly version: number | null;
  readonly json: string;
}

export interface Change<I> {
  fields: Partial<I>;
  op: ChangeOp;
  audit: Audit;
  /** Apply only if the record is at this version (optimistic concurrency); 0 never matches. */
  expectedVersion?: number;
}

export function recordSql<T extends Row, I extends Row>(r: Resource) {
  const table = r.table;
  const id = r.column(r.idName);
  const writable = r.writable;
  const valuesOf = (input: Partial<I>) => writable.map((n) => input[n]);
  const placeholders = writable.map(() => '?').join(', ');
  /** The id column's sequence, as PostgreSQL names a serial column's (the migration made it). */
  const sequence = `${table}_${id}_seq`;
  const arrays = arrayParams(...r.arrayTypes);
  const history = r.history;
  const version = r.versionColumn;

  /**
   * A CTE appending events for the rows of `source` (a CTE or table alias in the statement), or
   * nothing when the resource keeps no history. `changes` is the SQL of each event's changes.
   */
  const eventCte = (select: string) =>
    history ? `, event as (insert into ${history.table} (${history.column}, op, changes, actor, request_id) ${select})` : '';
  // Events record the writable fields, read from rows in the API shape (columns named after the
  // fields). Built with jsonb_build_object over the descriptor's field list: no per-row set
  // functions or aggregation.
  const q = (row: string, name: string) => `${row}."${name}"`;
  /**
   * `{ field: { from, to } }` of the fields where `changed` holds, each field's values given as SQL.
   * Fields are never null, so jsonb_strip_nulls drops exactly the unchanged ones.
   */
  const fieldChanges = (from: (n: string) => string, to: (n: string) => string, changed: (n: string) => string) =>
    `jsonb_strip_nulls(jsonb_build_object(${writable
      .map((n) => `'${n}', case when ${changed(n)} then jsonb_build_object('from', ${from(n)}, 'to', ${to(n)}) end`)
      .join(', ')}))`;
  /** The fields whose value differs between two row aliases. */
  const diff = (before: string, after: string) =>
    fieldChanges(
      (n) => q(before, n),
      (n) => q(after, n),
      (n) => `${q(before, n)} is distinct from ${q(after, n)}`,
    );
  /** Every field of a row alias, from null (create) or to null (delete). */
  const whole = (row: string, direction: 'from' | 'to') =>
    `jsonb_build_object(${writable
      .map(
        (n) =>
          `'${n}', jsonb_build_object('from', ${direction === 'from' ? q(row, n) : 'null'}, 'to', ${direction === 'from' ? 'null' : q(row, n)})`,
      )
      .join(', ')})`;
  /**
   * The fields of the jsonb object `patch` (field → new value) whose value differs from the row
   * alias's. (`->`, never the `?` operator: `?` is a placeholder here.)
   */
  const initialChanges = (row: string, patch: string) =>
    fieldChanges(
      (n) => q(row, n),
      (n) => `${patch} -> '${n}'`,
      (n) => `${patch} -> '${n}' is not null and to_jsonb(${q(row, n)}) is distinct from ${patch} -> '${n}'`,
    );
  const auditValues = (audit: Audit) => (history ? [audit.actor, audit.requestId] : []);
  /**
   * The events of a grouped update (see updateAll), one per change, in order. Each change's fields
   * come split where they are known: a field an earlier change of the group set starts from that
   * change's value, worked out before the statement (`known`, splitChanges); a field the group sets
   * for the first time starts from the locked row, compared here (`initial`; most changes of a
   * group have none). Plain expressions over the descriptor's fields: no per-change set
   * functions, sort or aggregate.
   */
  const groupEvents = eventCte(
    `select o.${r.idName}, c.op,
            case when c.initial = '{}'::jsonb then c.known else c.known || ${initialChanges('o', 'c.initial')} end,
            c.actor, c.request_id
     from old o cross join new n
     cross join unnest(${arrayParams('jsonb[]', 'jsonb[]', 'text[]', 'text[]', 'text[]')}) with ordinality as c(known, initial, op, actor, request_id, ord)
     order by c.ord`,
  );

  /**
   * `changes`: how many changes the statement applies (each one is a version); `target`: how the
   * statement names the updated table (its alias when it joins another row set).
   */
  const setClause = (fields: Partial<I>, changes = 1, target = table) => {
    const sets: string[] = [];
    const bindings: unknown[] = [];
    for (const n of writable) {
      if (fields[n] === undefined) continue;
      sets.push(`${r.column(n)} = ?`);
      bindings.push(fields[n]);
    }
    if (r.updatedAtColumn) sets.push(`${r.updatedAtColumn} = now()`);
    if (version) {
      // A parameter, not a literal: one statement text (one prepared statement) for every group size.
      sets.push(`${version} = ${target}.${version} + ?::int`);
      bindings.push(changes);
    }
    return { sets: sets.join(', '), bindings };
  };

  return {
    /** The records with these ids, in no particular order; an id with no record is left out. */
    byIds(db: SqlClient, ids: number[]): Promise<T[]> {
      // One array parameter: one statement text (and one prepared statement) for any number of ids.
      return db.query<T>(`select ${r.selectRecord} from ${table} where ${id} = any(${arrayParam('int[]')})`, [ids]);
    },

    /**
     * The same records as JSON text made by PostgreSQL, in the API shape and key order of a list's
     * items (`json`, without the version), with their ids and versions beside it.
     */
    byIdsJson(db: SqlClient, ids: number[]): Promise<RecordJson[]> {
      return db.query<RecordJson>(
        `select ${id} as "id", ${version ?? 'null::int'} as "version", (select row_to_json(x) from (select ${r.selectForJson}) as x)::text as "json"
         from ${table} where ${id} = any(${arrayParam('int[]')})`,
        [ids],
      );
    },

    /** Deletes one record; false when there was no such id. */
    async delete(db: SqlClient, key: number, audit: Audit, expectedVersion?: number): Promise<boolean> {
      const guard = version && expectedVersion !== undefined ? ` and ${version} = ?` : '';
      const deleted = await db.query(
        `with gone as (delete from ${table} where ${id} = ?${guard} returning ${r.selectRecord})${eventCte(
          `select g.${r.idName}, 'delete', ${whole('g', 'from')}, ?, ? from gone g`,
        )} select ${r.idName} from gone`,
        [key, ...(guard ? [expectedVersion] : []), ...auditValues(audit)],
      );
      return deleted.length > 0;
    },

    /** Stores one record (other columns take their defaults); resolves with the row as stored. */
    async insert(db: SqlClient, input: I, audit: Audit): Promise<T> {
      const [row] = await db.query<T>(
        `with stored as (insert into ${table} (${r.insertColumns}) values (${placeholders}) returning ${r.selectRecord})${eventCte(
          `select s.${r.idName}, 'create', ${whole('s', 'to')}, ?, ? from stored s`,
        )} select * from stored`,
        [...valuesOf(input), ...auditValues(audit)],
      );
      return row!;
    },

    /**
     * Stores several records in one statement (all or none): one array parameter per column,
     * turned back into rows by `unnest`, so the text is the same whatever the count and is
     * prepared once.
     *
     * Each stored row is matched to its input by position, never by a value (a stored value may
     * differ from the one sent, and two inputs may carry equal ones). The statement takes each
     * row's id from the table's sequence itself (`nextval` is exactly the column's default), next
     * to the row's position (`with ordinality`), inserts the rows with those ids and joins the
     * stored rows back to their positions on the id it chose. That holds by construction, whatever
     * order PostgreSQL calls defaults or returns rows in. Each row's event carries its own actor
     * and request id.
     *
     * Resolves with the stored row of each input, in input order; undefined for an input whose row
     * was not stored although the statement succeeded (only a trigger could do that).
     */
    async insertMany(db: SqlClient, inputs: I[], audits: Audit[]): Promise<(T | undefined)[]> {
      const columns: unknown[][] = writable.map(() => []);
      for (const input of inputs) {
        valuesOf(input).forEach((v, i) => {
          columns[i]!.push(v);
        });
      }
      const auditColumns = history ? [audits.map((a) => a.actor), audits.map((a) => a.requestId)] : [];
      const rows = await db.query<T & { ord: number }>(
        `with requested as (
           select nextval('${sequence}') as ${id}, r.*
           from unnest(${arrays}${history ? `, ${arrayParams('text[]', 'text[]')}` : ''}) with ordinality as r(${r.insertColumns}${history ? ', actor, request_id' : ''}, ord)
         ), stored as (
           insert into ${table} (${id}, ${r.insertColumns}) select ${id}, ${r.insertColumns} from requested returning ${r.selectRecord}
         )${eventCte(
           `select s.${r.idName}, 'create', ${whole('s', 'to')}, q.actor, q.request_id from stored s join requested q on q.${id} = s.${r.idName} order by q.ord`,
         )}
         select stored.*, requested.ord::int as ord from stored join requested on requested.${id} = stored.${r.idName}`,
        [...columns, ...auditColumns],
      );
      const byPosition: (T | undefined)[] = inputs.map(() => undefined);
      for (const { ord, ...row } of rows) byPosition[ord - 1] = row as unknown as T;
      return byPosition;
    },

    /**
     * Sets the given fields of one record and returns the stored row, in one statement (no read
     * before the write, no transaction around a single statement). Undefined when no such id.
     */
    async update(db: SqlClient, key: number, change: Change<I>): Promise<T | undefined> {
      const { sets, bindings } = setClause(change.fields, 1, history ? 't' : table);
      const guarded = version !== undefined && change.expectedVersion !== undefined;
      const expected = guarded ? [change.expectedVersion] : [];
      if (!history) {
        const [row] = await db.query<T>(
          `update ${table} set ${sets} where ${id} = ?${guarded ? ` and ${version} = ?` : ''} returning ${r.selectRecord}`,
          [...bindings, key, ...expected],
        );
        return row;
      }
      const [row] = await db.query<T>(
        `with old as (select ${r.selectOf('p')} from ${table} p where p.${id} = ? for update),
         new as (update ${table} t set ${sets} from old where t.${id} = old.${r.idName}${guarded ? ' and old.version = ?' : ''} returning ${r.selectOf('t')})${eventCte(
           `select n.${r.idName}, ?, ${diff('o', 'n')}, ?, ? from new n join old o using (${r.idName})`,
         )}
         select * from new`,
        [key, ...bindings, ...expected, change.op, ...auditValues(change.audit)],
      );
      return row;
    },

    /**
     * Applies several changes of one record, in order, in one statement, and returns the row as it
     * was *before* (locked first, so it is the latest committed version): each change's own result
     * is that row with the changes up to it applied. Each change gets its own event, in order, its
     * `from` values being what the record held just before that change.
     */
    async updateAll(db: SqlClient, key: number, changes: Change<I>[]): Promise<T | undefined> {
      const { sets, bindings } = setClause(Object.assign({}, ...changes.map((c) => c.fields)) as Partial<I>, changes.length, 't');
      const eventBindings = history
        ? [...splitChanges(changes), changes.map((c) => c.op), changes.map((c) => c.audit.actor), changes.map((c) => c.audit.requestId)]
        : [];
      const [row] = await db.query<T>(
        `with old as (select ${r.selectOf('p')} from ${table} p where p.${id} = ? for update),
         new as (update ${table} t set ${sets} from old where t.${id} = old.${r.idName} returning t.${id})${groupEvents}
         select * from old where exists (select 1 from new)`,
        [key, ...bindings, ...eventBindings],
      );
      return row;
    },
  };
}

/**
 * The event changes of a group of changes to one record, applied in order, as two JSON texts per
 * change: `known`, `{ field: { from, to } }` of the fields an earlier change of the group set (from
 * is that change's value; a field set to the value it already held is left out), and `initial`,
 * `{ field: to }` of the fields the group sets for the first time (their from is the record's
 * value before the group, which only the statement knows).
 */
export function splitChanges<I extends Row>(changes: readonly Change<I>[]): [known: string[], initial: string[]] {
  /** Each field's latest value in the group, and its JSON (what the statement compares). */
  const latest = new Map<string, { value: unknown; json: string }>();
  const known: string[] = [];
  const initial: string[] = [];
  for (const change of changes) {
    const k: Record<string, { from: unknown; to: unknown }> = {};
    const f: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(change.fields)) {
      if (value === undefined) continue;
      const json = JSON.stringify(value);
      const before = latest.get(field);
      if (before === undefined) f[field] = value;
      else if (before.json !== json) k[field] = { from: before.value, to: value };
      latest.set(field, { value, json });
    }
    known.push(JSON.stringify(k));
    initial.push(JSON.stringify(f));
  }
  return [known, initial];
}

/** The fields a change sets (an undefined key leaves the field as it is). */
export function definedOnly<I extends Row>(fields: Partial<I>): Partial<I> {
  const out: Partial<I> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  return out;
}

export type RecordSql<T extends Row, I extends Row> = ReturnType<typeof recordSql<T, I>>;

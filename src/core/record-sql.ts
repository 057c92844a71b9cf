import type { SqlClient } from '../db/sql-client.ts';
import type { Resource } from './resource.ts';

/**
 * The single-record statements of a resource (by id, insert, update, delete), built from its
 * field descriptor. Every value is a bound parameter; every statement answers the row as stored,
 * in the API shape, never the input echoed.
 */
export type Row = Record<string, unknown>;

export function recordSql<T extends Row, I extends Row>(r: Resource) {
  const table = r.table;
  const id = r.column(r.idName);
  const writable = r.writable;
  const valuesOf = (input: Partial<I>) => writable.map((n) => input[n]);
  const placeholders = writable.map(() => '?').join(', ');
  /** The id column's sequence, as PostgreSQL names a serial column's (the migration made it). */
  const sequence = `${table}_${id}_seq`;
  const arrays = r.arrayTypes.map((type) => `?::${type}`).join(', ');

  const setClause = (fields: Partial<I>) => {
    const sets: string[] = [];
    const bindings: unknown[] = [];
    for (const n of writable) {
      if (fields[n] === undefined) continue;
      sets.push(`${r.column(n)} = ?`);
      bindings.push(fields[n]);
    }
    if (r.updatedAtColumn) sets.push(`${r.updatedAtColumn} = now()`);
    return { sets: sets.join(', '), bindings };
  };

  return {
    /** The records with these ids, in no particular order; an id with no record is left out. */
    byIds(db: SqlClient, ids: number[]): Promise<T[]> {
      // One array parameter: one statement text (and one prepared statement) for any number of ids.
      return db.query<T>(`select ${r.select} from ${table} where ${id} = any(?)`, [ids]);
    },

    /** Deletes one record; false when there was no such id. */
    async delete(db: SqlClient, key: number): Promise<boolean> {
      const deleted = await db.query(`delete from ${table} where ${id} = ? returning ${id}`, [key]);
      return deleted.length > 0;
    },

    /** Stores one record (other columns take their defaults); resolves with the row as stored. */
    async insert(db: SqlClient, input: I): Promise<T> {
      const [row] = await db.query<T>(
        `insert into ${table} (${r.insertColumns}) values (${placeholders}) returning ${r.select}`,
        valuesOf(input),
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
     * order PostgreSQL calls defaults or returns rows in.
     *
     * Resolves with the stored row of each input, in input order; undefined for an input whose row
     * was not stored although the statement succeeded (only a trigger could do that).
     */
    async insertMany(db: SqlClient, inputs: I[]): Promise<(T | undefined)[]> {
      const columns: unknown[][] = writable.map(() => []);
      for (const input of inputs) {
        valuesOf(input).forEach((v, i) => {
          columns[i]!.push(v);
        });
      }
      const rows = await db.query<T & { ord: number }>(
        `with requested as (
           select nextval('${sequence}') as ${id}, r.*
           from unnest(${arrays}) with ordinality as r(${r.insertColumns}, ord)
         ), stored as (
           insert into ${table} (${id}, ${r.insertColumns}) select ${id}, ${r.insertColumns} from requested returning ${r.select}
         )
         select stored.*, requested.ord::int as ord from stored join requested on requested.${id} = stored.${id}`,
        columns,
      );
      const byPosition: (T | undefined)[] = inputs.map(() => undefined);
      for (const { ord, ...row } of rows) byPosition[ord - 1] = row as unknown as T;
      return byPosition;
    },

    /**
     * Sets the given fields of one record and returns the stored row, in one statement (no read
     * before the write, no transaction around a single statement). Undefined when no such id.
     */
    async update(db: SqlClient, key: number, fields: Partial<I>): Promise<T | undefined> {
      const { sets, bindings } = setClause(fields);
      const [row] = await db.query<T>(`update ${table} set ${sets} where ${id} = ? returning ${r.select}`, [...bindings, key]);
      return row;
    },

    /**
     * Sets `fields` like `update`, and returns the row as it was *before* (locked first, so it is
     * the latest committed version). Used to apply several queued changes of one record in one
     * statement while still knowing each change's own result.
     */
    async updateReturningOld(db: SqlClient, key: number, fields: Partial<I>): Promise<T | undefined> {
      const { sets, bindings } = setClause(fields);
      const [row] = await db.query<T>(
        `update ${table} as t set ${sets} from (select ${r.select} from ${table} where ${id} = ? for update) as old where t.${id} = old.${id} returning old.*`,
        [...bindings, key],
      );
      return row;
    },
  };
}

export type RecordSql<T extends Row, I extends Row> = ReturnType<typeof recordSql<T, I>>;

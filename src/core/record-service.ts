import { DatabaseError } from '../db/errors.ts';
import type { SqlClient } from '../db/sql-client.ts';
import { ConflictError, NotFoundError, PreconditionFailedError } from './errors.ts';
import { type HistoryEvent, type HistoryPage, historyJson, historyOf } from './history-sql.ts';
import type { ListQuery } from './list-query.ts';
import type { JsonListResult } from './list-sql.ts';
import { createInsertGroups, createPageGroups, createReadGroups, createUpdateGroups } from './record-groups.ts';
import { type Audit, type Change, type RecordJson, type Row, recordSql } from './record-sql.ts';
import type { Resource } from './resource.ts';

const versionOf = (expectedVersion: number | undefined) => (expectedVersion === undefined ? {} : { expectedVersion });

/** SQLSTATE unique_violation. */
const UNIQUE_VIOLATION = '23505';

/**
 * The use cases of one resource: list, read, create, replace, update, delete. Created once per
 * process (it keeps no request state; its statement groups are shared by all requests). Returns
 * data; throws the domain's errors (core/errors.ts). An `id` of null means "no such id can
 * exist" (a path segment that is not a canonical positive int).
 */
export function createRecordService<T extends Row, I extends Row>(db: SqlClient, r: Resource) {
  const statements = recordSql<T, I>(r);
  const reads = createReadGroups(db, statements as unknown as ReturnType<typeof recordSql<Row, Row>>);
  const inserts = createInsertGroups(db, statements);
  const updates = createUpdateGroups(db, statements, r.uniqueNames);
  const pages = createPageGroups(db, r);
  const notFound = () => new NotFoundError(r.name);
  const conflictMessage = `A ${r.name.toLowerCase()} with this ${r.uniqueNames.join(' or ')} already exists`;

  /** A clash on a unique value as this API's 409 (with a message that names the field, not the value). */
  const orConflict = async <V>(work: Promise<V>): Promise<V> => {
    try {
      return await work;
    } catch (error) {
      if (error instanceof DatabaseError && error.sqlState === UNIQUE_VIOLATION) throw new ConflictError(conflictMessage, { cause: error });
      throw error;
    }
  };
  /** No row was written: the record is missing (404), or exists at another version than expected (412). */
  const whyNot = async (id: number, expectedVersion: number | undefined): Promise<Error> => {
    if (expectedVersion === undefined || !r.versionColumn) return notFound();
    const [row] = await statements.byIds(db, [id]);
    return row ? new PreconditionFailedError(r.name) : notFound();
  };
  const updateOne = async (id: number | null, change: Change<I>): Promise<T> => {
    if (id === null) throw notFound();
    const row = await orConflict(updates.update(id, change));
    if (!row) throw await whyNot(id, change.expectedVersion);
    return row;
  };

  const readJson = async (id: number | null): Promise<RecordJson> => {
    if (id === null) throw notFound();
    const record = await reads.byId(id);
    if (!record) throw notFound();
    return record;
  };

  return {
    /**
     * A page of records, and the total when the query asks for it: the page as PostgreSQL
     * serialised it (the descriptor's keys and text forms), parsed.
     */
    async list(query: ListQuery): Promise<{ items: T[]; total?: number }> {
      const { json, total } = await pages.page(query);
      return { items: JSON.parse(json) as T[], ...(total !== undefined ? { total } : {}) };
    },

    /**
     * The same page as JSON text made by PostgreSQL (for transports that can send it as is),
     * alone or grouped with the pages of the same list asked for at the same time (record-groups.ts).
     */
    listJson(query: ListQuery): Promise<JsonListResult> {
      return pages.page(query);
    },

    /** One read, alone or grouped with the reads by id arriving at the same time (record-groups.ts). */
    async byId(id: number | null): Promise<T> {
      const { json, version } = await readJson(id);
      const record = JSON.parse(json) as T;
      if (version !== null) (record as Row).version = version;
      return record;
    },

    /** The same read as JSON text made by PostgreSQL (without the version, which comes beside it). */
    byIdJson: readJson,

    /**
     * One insert, alone or grouped with the creates arriving at the same time. Answers the row as
     * stored, like replace and update, never the input echoed.
     */
    create(input: I, audit: Audit): Promise<T> {
      return orConflict(inserts.insert(input, audit));
    },

    /** PUT: every field replaced in one `update ... returning`; the id and creation time stay. */
    replace(id: number | null, input: I, audit: Audit, expectedVersion?: number): Promise<T> {
      return updateOne(id, { fields: input, op: 'replace', audit, ...versionOf(expectedVersion) });
    },

    /** PATCH: only the given fields change, in the same single statement. */
    update(id: number | null, patch: Partial<I>, audit: Audit, expectedVersion?: number): Promise<T> {
      return updateOne(id, { fields: patch, op: 'update', audit, ...versionOf(expectedVersion) });
    },

    /** `expectedVersion`: delete only that version (PreconditionFailedError when it changed). */
    async remove(id: number | null, audit: Audit, expectedVersion?: number): Promise<void> {
      if (id === null) throw notFound();
      if (!(await statements.delete(db, id, audit, expectedVersion))) throw await whyNot(id, expectedVersion);
    },

    /**
     * The record's changes, newest first, and how many there are; NotFoundError when no record
     * with this id exists or ever existed (a deleted record keeps its history).
     */
    async history(id: number | null, page: HistoryPage): Promise<{ items: HistoryEvent[]; total: number }> {
      if (id === null || !r.history) throw notFound();
      const { items, total } = await historyOf(db, r, id, page);
      if (total === 0 && (await statements.byIds(db, [id])).length === 0) throw notFound();
      return { items, total };
    },

    /** The same page as JSON text made by PostgreSQL, with the counts. */
    async historyJson(id: number | null, page: HistoryPage): Promise<JsonListResult & { total: number }> {
      if (id === null || !r.history) throw notFound();
      const result = await historyJson(db, r, id, page);
      if (result.total === 0 && (await statements.byIds(db, [id])).length === 0) throw notFound();
      return result;
    },
  };
}

export type RecordService<T extends Row, I extends Row> = ReturnType<typeof createRecordService<T, I>>;

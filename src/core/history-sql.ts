import type { SqlClient } from '../db/sql-client.ts';
import { type JsonListResult, sliceSql } from './list-sql.ts';
import type { Resource } from './resource.ts';

/** What a history event records a write as. */
export const EVENT_OPS = ['create', 'replace', 'update', 'delete', 'import'] as const;

/** One change of a record, as the history answers it. */
export interface HistoryEvent {
  /** The event's id: the order of commits for one record (newest first in answers). */
  id: number;
  op: (typeof EVENT_OPS)[number];
  /** ISO 8601 time of the change. */
  at: string;
  actor: string;
  requestId: string | null;
  /** Each changed field: its value before and after (null for none). */
  changes: Record<string, { from: unknown; to: unknown }>;
}

/** A slice of a record's history, newest first: `before` an event id (a cursor), or by offset. */
export interface HistoryPage {
  offset: number;
  limit: number | null;
  /** Only events older than this id (tRPC's cursor). */
  before?: number;
}

// `id` as a double: exact for every bigserial value JavaScript can hold, and a number in JSON.
const COLUMNS = `id::float8 as id, op, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at, actor, request_id as "requestId", changes`;

function pageSql(r: Resource, id: number, page: HistoryPage) {
  const h = r.history!;
  const bindings: unknown[] = [id];
  let where = `${h.column} = ?`;
  if (page.before !== undefined) {
    where += ' and id < ?';
    bindings.push(page.before);
  }
  const { sql, bindings: all } = sliceSql({ sql: `select ${COLUMNS} from ${h.table} where ${where} order by id desc`, bindings }, page);
  return { sql, bindings: all, count: `select count(*)::int as total from ${h.table} where ${h.column} = ?` };
}

export async function historyOf(
  db: SqlClient,
  r: Resource,
  id: number,
  page: HistoryPage,
): Promise<{ items: HistoryEvent[]; total: number }> {
  const { sql, bindings, count } = pageSql(r, id, page);
  const items = await db.query<HistoryEvent>(sql, bindings);
  const [row] = await db.query<{ total: number }>(count, [id]);
  return { items, total: row?.total ?? 0 };
}

/** The same page as JSON text made by PostgreSQL (`json_agg`, in the page's order). */
export async function historyJson(db: SqlClient, r: Resource, id: number, page: HistoryPage): Promise<JsonListResult & { total: number }> {
  const { sql, bindings, count } = pageSql(r, id, page);
  const [row] = await db.query<{ json: string; n: number }>(
    `select coalesce(json_agg(page), '[]')::text as json, count(*)::int as n from (${sql}) as page`,
    bindings,
  );
  const [counted] = await db.query<{ total: number }>(count, [id]);
  return { json: row?.json ?? '[]', returned: row?.n ?? 0, total: counted?.total ?? 0 };
}

import { arrayParams } from '../db/array-param.ts';
import type { SqlClient } from '../db/sql-client.ts';
import { type Condition, canonicalDate, type ListQuery } from './list-query.ts';
import { INT_MAX, INT_MIN, type Resource } from './resource.ts';

/**
 * Runs a `ListQuery` in PostgreSQL: filtering, search, sorting, counting and slicing happen in
 * SQL, every user value travels as a bound parameter, and rows come back in the API shape (plain
 * objects, or JSON text built by PostgreSQL). Columns and text forms come from the resource's
 * field descriptor.
 *
 * Text comparisons and sorts use the "C" collation: code-point order, like json-server's
 * JavaScript comparisons, whatever the database's locale.
 */

export interface Fragment {
  sql: string;
  bindings: unknown[];
}

const FALSE: Fragment = { sql: 'false', bindings: [] };
const TRUE: Fragment = { sql: 'true', bindings: [] };

export function conditionSql(r: Resource, c: Condition): Fragment {
  switch (c.op) {
    case 'none':
      return FALSE;
    case 'in':
    case 'notIn': {
      if (c.values.length === 0) return c.op === 'in' ? FALSE : TRUE;
      // One value (the common `?gender=Female`) is a plain comparison: an index that starts with
      // the column then also gives its rows in the order of the next columns (a sorted page, a
      // count from the index alone), which `= any(...)` does not promise in a reusable plan.
      if (c.values.length === 1) return { sql: `${r.column(c.field)} ${c.op === 'in' ? '=' : '<>'} ?`, bindings: [c.values[0]] };
      // Several: one array parameter (typed after the column by PostgreSQL), not one per value:
      // the SQL text, hence the prepared statement, is the same for any number of values.
      return { sql: `${r.column(c.field)} ${c.op === 'in' ? '= any(?)' : '<> all(?)'}`, bindings: [c.values] };
    }
    case 'gte':
    case 'lte': {
      const cmp = c.op === 'gte' ? '>=' : '<=';
      const kind = r.kind(c.field);
      if (kind === 'int') return intRange(r.column(c.field), c.op, Number(c.value));
      // A full date compares like its text form; anything else compares as text.
      if (kind === 'date' && typeof c.value === 'string' && canonicalDate(c.value)) {
        return { sql: `${r.column(c.field)} ${cmp} ?::date`, bindings: [c.value] };
      }
      return { sql: `${r.textForm(c.field)} collate "C" ${cmp} ?`, bindings: [String(c.value)] };
    }
    case 'regex':
      return { sql: `${r.textForm(c.field)} ~* ?`, bindings: [c.pattern] };
  }
}

/**
 * `int >= 40.5` is `int >= 41`: comparing with an int bound keeps the column's index usable
 * (casting the column to numeric would not).
 */
function intRange(column: string, op: 'gte' | 'lte', bound: number): Fragment {
  const n = op === 'gte' ? Math.ceil(bound) : Math.floor(bound);
  if (n > INT_MAX) return op === 'gte' ? FALSE : TRUE;
  if (n < INT_MIN) return op === 'gte' ? TRUE : FALSE;
  return { sql: `${column} ${op === 'gte' ? '>=' : '<='} ?`, bindings: [n] };
}

/** json-server's `q`: a case-insensitive substring of any field's text form. */
function search(r: Resource, q: string): Fragment {
  // The fields are joined with chr(1) in the haystack: a search containing it matches nothing.
  if (q.includes('\u0001')) return FALSE;
  return { sql: `strpos(${r.searchText}, lower(?)) > 0`, bindings: [q] };
}

export function whereSql(r: Resource, query: ListQuery): Fragment {
  const fragments = query.where.map((c) => conditionSql(r, c));
  if (query.q !== undefined) fragments.push(search(r, query.q));
  // In a canonical order (each fragment keeps its own bindings): `?a=1&b=2` and `?b=2&a=1` are
  // one statement text, so one prepared statement.
  fragments.sort((x, y) => (x.sql < y.sql ? -1 : x.sql > y.sql ? 1 : 0));
  if (fragments.length === 0) return { sql: '', bindings: [] };
  return {
    sql: ` where ${fragments.map((f) => `(${f.sql})`).join(' and ')}`,
    bindings: fragments.flatMap((f) => f.bindings),
  };
}

export function orderSql(r: Resource, query: ListQuery): string {
  const parts: string[] = [];
  for (const key of query.sort) {
    parts.push(`${r.sortForm(key.field)}${key.desc ? ' desc' : ''}`);
    if (key.field === r.idName) return ` order by ${parts.join(', ')}`;
  }
  // Ties keep storage order (ascending id), even for descending keys: lodash's stable sort.
  parts.push(r.column(r.idName));
  return ` order by ${parts.join(', ')}`;
}

/** `limit ? offset ?` for a slice (offset 0 and no limit leave the clause out). */
export function sliceSql(page: Fragment, { limit, offset }: { limit: number | null; offset: number }): Fragment {
  let { sql } = page;
  const bindings = [...page.bindings];
  if (limit !== null) {
    sql += ' limit ?';
    bindings.push(limit);
  }
  if (offset > 0) {
    sql += ' offset ?';
    bindings.push(offset);
  }
  return { sql, bindings };
}

/** The page's statement, and its where clause (for the count). */
export function pageSql(r: Resource, query: ListQuery, columns = r.select, shape = pageShape(r, query)): Fragment & { where: Fragment } {
  const { where } = shape;
  const page = sliceSql({ sql: `select ${columns} from ${r.table}${where.sql}${shape.order}`, bindings: where.bindings }, query);
  return { ...page, where };
}

export interface JsonListResult {
  /** The page as a JSON array, built by PostgreSQL (`json_agg` over the page query, in its order). */
  json: string;
  returned: number;
  /** Number of matches before slicing (only when `withTotal`). */
  total?: number;
}

/**
 * The same page, serialised by PostgreSQL: no row objects, no validation, no `JSON.stringify` in
 * the service for large lists. The descriptor's select list is the whitelist of keys.
 */
export async function listJson(db: SqlClient, r: Resource, query: ListQuery, shape = pageShape(r, query)): Promise<JsonListResult> {
  const { sql, bindings, where } = pageSql(r, query, r.selectForJson, shape);
  if (!query.withTotal) {
    const [row] = await db.query<{ json: string; n: number }>(
      `select coalesce(json_agg(page), '[]')::text as json, count(*)::int as n from (${sql}) as page`,
      bindings,
    );
    return { json: row?.json ?? '[]', returned: row?.n ?? 0 };
  }
  // The page and its total in one statement. A first page that is not full is its own total:
  // PostgreSQL evaluates the count only in the branch that needs it.
  const count = `(select count(*) from ${r.table}${where.sql})`;
  const firstPage = query.offset === 0 && query.limit !== null;
  const [row] = await db.query<{ json: string; n: number; total: number }>(
    `select coalesce(json_agg(page), '[]')::text as json, count(*)::int as n,
            ${firstPage ? `(case when count(*) < ? then count(*) else ${count} end)` : count}::int as total
     from (${sql}) as page`,
    [...(firstPage ? [query.limit] : []), ...where.bindings, ...bindings],
  );
  return { json: row?.json ?? '[]', returned: row?.n ?? 0, total: row?.total ?? 0 };
}

/**
 * What the pages of one list share: everything but the slice. Queries with the same `key` have
 * the same statement text (filter, search and order written the same, values aside) and can be
 * answered by one statement (listJsonGroup); `valuesKey` tells their bound values apart.
 */
export interface PageShape {
  key: string;
  valuesKey: string;
  where: Fragment;
  order: string;
  withTotal: boolean;
}

export function pageShape(r: Resource, query: ListQuery): PageShape {
  const where = whereSql(r, query);
  const order = orderSql(r, query);
  return {
    key: `${query.withTotal}|${where.sql}|${order}`,
    valuesKey: JSON.stringify(where.bindings),
    where,
    order,
    withTotal: query.withTotal,
  };
}

export interface Slice {
  limit: number | null;
  offset: number;
}

/** Pages of one shape and the same bound values: their filter's values, and each page's slice. */
export interface PageSet {
  where: Fragment;
  slices: readonly Slice[];
}

/**
 * Pages of one statement text in one statement, one answer per slice, in the order given (set by
 * set, slice by slice). Each set of equal filter values is a branch of a `union all`: every page
 * in it is the lateral subquery `listJson` would run alone (same filter, order and slice), and
 * the branch's total is counted once (an uncorrelated subquery, which PostgreSQL evaluates once).
 */
export async function listJsonGroup(db: SqlClient, r: Resource, shape: PageShape, sets: readonly PageSet[]): Promise<JsonListResult[]> {
  const { order, withTotal } = shape;
  const whereSql = shape.where.sql;
  const branch = `select g.i, p.json, p.n, ${withTotal ? `(select count(*) from ${r.table}${whereSql})::int` : 'null::int'} as total
     from unnest(${arrayParams('int[]', 'bigint[]', 'bigint[]')}) as g(i, lim, off)
     cross join lateral (
       select coalesce(json_agg(page), '[]')::text as json, count(*)::int as n
       from (select ${r.selectForJson} from ${r.table}${whereSql}${order} limit g.lim offset g.off) as page
     ) as p`;
  const bindings: unknown[] = [];
  let position = 0;
  for (const { where, slices } of sets) {
    // In the order of the text: the count's values (in the select list), the slices, the page's values.
    if (withTotal) bindings.push(...where.bindings);
    bindings.push(
      slices.map(() => position++),
      slices.map((s) => s.limit),
      slices.map((s) => s.offset),
      ...where.bindings,
    );
  }
  const rows = await db.query<{ json: string; n: number; total: number | null }>(
    `select json, n, total from (${sets.map(() => branch).join('\n     union all\n     ')}) as pages order by i`,
    bindings,
  );
  return rows.map((row) => ({ json: row.json, returned: row.n, ...(withTotal ? { total: row.total ?? 0 } : {}) }));
}

import { z } from 'zod';
import { QueryError } from './errors.ts';
import { type Condition, canonicalDate, canonicalInt, type ListQuery, type SortKey } from './list-query.ts';
import { toPostgresRegexAny } from './regex.ts';
import type { Resource } from './resource.ts';

/**
 * json-server 0.17.4's list query syntax (`GET /patients?...`), read into a `ListQuery`, with the
 * exact semantics of its `plural.js` (see ../shared/docs/json-server-0.17.4.md), except for the
 * quirks listed in the README under "Deliberate divergences".
 */

export type RawQuery = Record<string, unknown>;

/** What the response headers need once the total is known. */
export interface Paging {
  /** X-Total-Count is sent (json-server: `_page`, `_limit` or `_end` present). */
  total: boolean;
  /** `_page` paging: Link is sent. */
  page?: { number: number; size: number; raw: string };
}

const RESERVED = new Set(['q', '_start', '_end', '_page', '_limit', '_sort', '_order', '_embed', '_expand', '_delay', 'callback', '_']);
const OPERATOR = /^(.*?)(_lte|_gte|_ne|_like)$/;

/** Every string value of a parameter (the adapter gives a string, or an array when repeated). */
const all = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
const first = (v: unknown): string | undefined => all(v)[0];
/** json-server tests these with JS truthiness: present and not the empty string. */
const present = (v: string | undefined): v is string => v !== undefined && v !== '';

export function parseJsonServerQuery(r: Resource, raw: RawQuery): { query: ListQuery; paging: Paging } {
  const where: Condition[] = [];
  for (const [rawKey, value] of Object.entries(raw)) {
    if (all(value).length === 0) continue;
    const key = rawKey.endsWith('[]') ? rawKey.slice(0, -2) : rawKey;
    if (RESERVED.has(key)) continue;
    const condition = toCondition(r, key, all(value));
    if (condition) where.push(condition);
  }

  const q = first(raw.q);
  const sort = parseSort(r, raw._sort, first(raw._order));
  const { offset, limit, paging } = parseSlice(raw);
  return {
    query: { where, ...(present(q) ? { q } : {}), sort, offset, limit, withTotal: paging.total },
    paging,
  };
}

function toCondition(r: Resource, key: string, values: string[]): Condition | undefined {
  if (r.isField(key)) return equals(r, key, values);
  const match = OPERATOR.exec(key);
  // A plain parameter that is not a field is ignored; an operator on an unknown field matches nothing.
  if (!match) return undefined;
  const [, name = '', suffix] = match;
  if (!r.isField(name)) return { op: 'none' };
  switch (suffix) {
    case '_ne':
      return { op: 'notIn', field: name, values: values.map((v) => typed(r, name, v)).filter((v) => v !== undefined) };
    case '_like':
      return likeAny(name, values);
    default:
      return range(r, name, suffix === '_gte' ? 'gte' : 'lte', values);
  }
}

/** `field=v`: `String(record.field) === v`; repeated values are ORed. */
function equals(r: Resource, field: string, values: string[]): Condition {
  return { op: 'in', field, values: values.map((v) => typed(r, field, v)).filter((v) => v !== undefined) };
}

/** The column value whose text form is exactly `v`; undefined when no value can have that form. */
function typed(r: Resource, field: string, v: string): string | number | undefined {
  switch (r.kind(field)) {
    case 'int':
      return canonicalInt(v);
    case 'date':
      return canonicalDate(v);
    default:
      return v;
  }
}

/** `field_like=v`: `new RegExp(v, 'i')` on the text form; repeated values are ORed (and bounded together). */
function likeAny(field: string, values: string[]): Condition {
  return { op: 'regex', field, pattern: toPostgresRegexAny(values) };
}

/**
 * `field_gte=v` / `field_lte=v`: JavaScript's loose comparison of the raw string with the stored
 * value: numeric for numbers (`Number(v)`, so '' is 0 and 'abc' matches nothing), code-point
 * order for strings. Repeated values are ORed, as json-server does.
 */
function range(r: Resource, field: string, op: 'gte' | 'lte', values: string[]): Condition {
  const numeric = r.kind(field) === 'int';
  if (values.length !== 1) {
    const bounds = values.map((v) => (numeric ? Number(v) : v)).filter((v) => !Number.isNaN(v));
    if (bounds.length === 0) return { op: 'none' };
    // OR of `x >= a`, `x >= b`... is `x >= min`; OR of `x <= a`... is `x <= max`.
    // In the order the database compares them: numbers numerically, text by code point (the "C"
    // collation), not by JavaScript's UTF-16 units (which put U+1F600 before U+FF01).
    const sorted = [...bounds].sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : byCodePoint(String(a), String(b))));
    return { op, field, value: (op === 'gte' ? sorted[0] : sorted.at(-1)) as string | number };
  }
  const v = values[0] as string;
  if (numeric) {
    const n = Number(v);
    return Number.isNaN(n) ? { op: 'none' } : { op, field, value: n };
  }
  return { op, field, value: v };
}

/** Code-point order of two strings (what PostgreSQL's "C" collation gives for UTF-8 text). */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i]!.codePointAt(0) ?? 0) - (y[i]!.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** `_sort=a,b&_order=asc,desc`: lodash orderBy; unknown fields are skipped, order is case-insensitive. */
function parseSort(r: Resource, rawSort: unknown, order: string | undefined): SortKey[] {
  // json-server answers a repeated _sort with a 500; we read it as one comma-separated list.
  const fields = all(rawSort).join(',');
  if (!present(fields)) return [];
  const orders = (order ?? '').split(',').map((o) => o.toLowerCase());
  const keys: SortKey[] = [];
  fields.split(',').forEach((field, i) => {
    if (r.isField(field)) keys.push({ field, desc: orders[i] === 'desc' });
  });
  return keys;
}

/** A non-negative integer parameter; anything else is a 400 (json-server slices with JS quirks). */
function count(name: string, v: string): number {
  if (!/^\d{1,9}$/.test(v)) throw new QueryError(`${name} must be a non-negative integer`);
  return Number(v);
}

/** Precedence `_page` > `_end` > `_limit`, as in json-server. */
export function parseSlice(raw: RawQuery): { offset: number; limit: number | null; paging: Paging } {
  const page = first(raw._page);
  const end = first(raw._end);
  const limitRaw = first(raw._limit);
  const startRaw = first(raw._start);
  const start = present(startRaw) ? count('_start', startRaw) : 0;
  const total = present(page) || present(end) || present(limitRaw);

  if (present(page)) {
    const parsed = Number.parseInt(page, 10);
    // `_page=abc` (NaN), 0 and negatives are page 1, as in json-server.
    const number = Number.isNaN(parsed) || parsed < 1 ? 1 : parsed;
    let size = 10;
    if (present(limitRaw)) {
      const n = Number.parseInt(limitRaw, 10);
      if (n < 0) throw new QueryError('_limit must not be negative');
      if (n > 0) size = n;
    }
    return { offset: (number - 1) * size, limit: size, paging: { total, page: { number, size, raw: page } } };
  }
  if (present(end)) {
    return { offset: start, limit: Math.max(0, count('_end', end) - start), paging: { total } };
  }
  if (present(limitRaw)) {
    return { offset: start, limit: count('_limit', limitRaw), paging: { total } };
  }
  // `_start` on its own is ignored, as in json-server.
  return { offset: 0, limit: null, paging: { total } };
}

/** Every documented json-server parameter of a resource's list. */
function documentedParams(r: Resource) {
  const param = (description: string) =>
    z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe(description);
  const shape: Record<string, ReturnType<typeof param>> = {};
  for (const f of r.names) {
    shape[f] = param(`${f} equals the value (exact, case-sensitive; repeat for OR)`);
    shape[`${f}_ne`] = param(`${f} differs from the value (repeat for AND)`);
    shape[`${f}_gte`] = param(`${f} >= value (numbers numerically, text in code-point order)`);
    shape[`${f}_lte`] = param(`${f} <= value`);
    shape[`${f}_like`] = param(`${f} matches the case-insensitive regular expression`);
  }
  shape.q = param('case-insensitive substring of any field (id, numbers and dates included)');
  shape._sort = param('comma-separated fields to sort by; ties stay in id order');
  shape._order = param('comma-separated asc/desc per _sort field (case-insensitive)');
  shape._page = param('page number from 1 (with _limit, default 10); sends X-Total-Count and Link');
  shape._limit = param('page size with _page, or number of items from _start; sends X-Total-Count');
  shape._start = param('index of the first item (with _end or _limit)');
  shape._end = param('index after the last item; sends X-Total-Count');
  return shape;
}

/** The REST list input of a resource: its documented json-server parameters, and any other key. */
export const jsonServerListInput = (r: Resource) => z.looseObject(documentedParams(r)).optional();

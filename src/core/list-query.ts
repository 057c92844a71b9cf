import { INT_MAX, INT_MIN } from './resource.ts';

/**
 * A list query, independent of how it was asked for. Two front doors build it: json-server's
 * query-string syntax (json-server-query.ts, the REST shim) and the typed tRPC input
 * (search-input.ts). list-sql.ts turns it into one parameterised SQL statement.
 */

/**
 * One condition; a query ANDs them. Values are already typed for the column
 * (ints for int columns, `YYYY-MM-DD` strings for dates, strings for text).
 */
export type Condition<F extends string = string> =
  /** The field equals one of the values (an empty list matches nothing). */
  | { op: 'in'; field: F; values: (string | number)[] }
  /** The field equals none of the values. */
  | { op: 'notIn'; field: F; values: (string | number)[] }
  /** Numeric comparison for int fields; code-point string comparison of the text form otherwise. */
  | { op: 'gte' | 'lte'; field: F; value: string | number }
  /** Case-insensitive regular expression on the field's text form. */
  | { op: 'regex'; field: F; pattern: string }
  /** Matches nothing (e.g. a filter on a field the resource does not have). */
  | { op: 'none' };

export interface SortKey<F extends string = string> {
  field: F;
  desc: boolean;
}

export interface ListQuery<F extends string = string> {
  where: Condition<F>[];
  /** Case-insensitive substring search over the text form of every field. */
  q?: string;
  /** Sort keys; ties (and everything when empty) are in id order, ascending. */
  sort: SortKey<F>[];
  offset: number;
  /** null: to the end. */
  limit: number | null;
  /** Whether the caller needs the total number of matches (before slicing). */
  withTotal: boolean;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The int whose decimal string is exactly `s` (json-server compares `String(value) === s`), if any. */
export function canonicalInt(s: string): number | undefined {
  if (!/^(0|-?[1-9]\d{0,9})$/.test(s)) return undefined;
  const n = Number(s);
  return n >= INT_MIN && n <= INT_MAX ? n : undefined;
}

/** `s` if it is a real calendar date written `YYYY-MM-DD` (what a date's text form looks like). */
export function canonicalDate(s: string): string | undefined {
  const m = ISO_DATE.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return y >= 1 && date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d ? s : undefined;
}

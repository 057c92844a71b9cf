import { BadRequestError } from '../errors.ts';

/**
 * The patient list query, independent of how it was asked for. Two front doors build it:
 * json-server's query-string syntax (`patient.query.jsonserver.ts`, the REST shim) and the typed
 * tRPC input (`patient.search`). `patient.sql.ts` turns it into one parameterised SQL query.
 */

export const PATIENT_FIELDS = ['id', 'patientID', 'name', 'age', 'gender', 'medicalCondition', 'lastVisit'] as const;
export type PatientField = (typeof PATIENT_FIELDS)[number];

export type FieldKind = 'int' | 'text' | 'date';
export const FIELD_KIND: Record<PatientField, FieldKind> = {
  id: 'int',
  patientID: 'text',
  name: 'text',
  age: 'int',
  gender: 'text',
  medicalCondition: 'text',
  lastVisit: 'date',
};

/**
 * One condition; a query ANDs them. Values are already typed for the column
 * (ints for int columns, `YYYY-MM-DD` strings for dates, strings for text).
 */
export type Condition =
  /** The field equals one of the values (an empty list matches nothing). */
  | { op: 'in'; field: PatientField; values: (string | number)[] }
  /** The field equals none of the values. */
  | { op: 'notIn'; field: PatientField; values: (string | number)[] }
  /** Numeric comparison for int fields; code-point string comparison of the text form otherwise. */
  | { op: 'gte' | 'lte'; field: PatientField; value: string | number }
  /** Case-insensitive regular expression on the field's text form. */
  | { op: 'regex'; field: PatientField; pattern: string }
  /** Matches nothing (e.g. a filter on a field patients do not have). */
  | { op: 'none' };

export interface SortKey {
  field: PatientField;
  desc: boolean;
}

export interface ListQuery {
  where: Condition[];
  /** Case-insensitive substring search over the text form of every field. */
  q?: string;
  /** Sort keys; ties (and everything when empty) are in id order, ascending. */
  sort: SortKey[];
  offset: number;
  /** null: to the end. */
  limit: number | null;
  /** Whether the caller needs the total number of matches (before slicing). */
  withTotal: boolean;
}

/** A query-level problem the client can fix: answered with 400. */
export class QueryError extends BadRequestError {
  override name = 'QueryError';
}

export const isPatientField = (name: string): name is PatientField => (PATIENT_FIELDS as readonly string[]).includes(name);

/** The range of PostgreSQL's `integer` (ids and ages). */
export const INT_MIN = -2_147_483_648;
export const INT_MAX = 2_147_483_647;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The int whose decimal string is exactly `s` (json-server compares `String(value) === s`), if any. */
export function canonicalInt(s: string): number | undefined {
  if (!/^(0|-?[1-9]\d{0,9})$/.test(s)) return undefined;
  const n = Number(s);
  return Math.abs(n) <= INT_MAX ? n : undefined;
}

/** `s` if it is a real calendar date written `YYYY-MM-DD` (what a date's text form looks like). */
export function canonicalDate(s: string): string | undefined {
  const m = ISO_DATE.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return y >= 1 && date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d ? s : undefined;
}

/**
 * Checks a `_like` pattern the way json-server uses it (`new RegExp(v, 'i')`) and rewrites the
 * few JavaScript escapes PostgreSQL's regex dialect spells differently (`\b` word boundary is
 * `\y` there). Patterns PostgreSQL still cannot compile are rejected by the database and
 * reported as 400 as well.
 */
export function toPostgresRegex(pattern: string): string {
  try {
    new RegExp(pattern, 'i');
  } catch {
    throw new QueryError('Invalid regular expression in a _like filter');
  }
  if (/\(\?<[^=!]|\\k<|\\[pPu]\{|\\c[A-Za-z]/.test(pattern)) {
    throw new QueryError('Unsupported regular expression syntax in a _like filter');
  }
  return pattern.replace(/\\(\\|b|B)/g, (_m, c: string) => (c === 'b' ? '\\y' : c === 'B' ? '\\Y' : '\\\\'));
}

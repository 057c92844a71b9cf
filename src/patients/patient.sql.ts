import type { SqlClient } from '../db/sql-client.ts';
import type { PatientDto } from './patient.schemas.ts';
import { canonicalDate, FIELD_KIND, INT_MAX, INT_MIN, type Condition, type ListQuery, type PatientField } from './patient.query.ts';

/**
 * Runs a `ListQuery` in PostgreSQL: filtering, search, sorting, counting and slicing happen in
 * SQL, every user value travels as a bound parameter, and rows come back as plain objects in the
 * API shape (no entity hydration for reads).
 *
 * Text comparisons and sorts use the "C" collation: code-point order, like json-server's
 * JavaScript comparisons, whatever the database's locale.
 */

const COLUMN: Record<PatientField, string> = {
  id: 'id',
  patientID: 'patient_id',
  name: 'name',
  age: 'age',
  gender: 'gender',
  medicalCondition: 'medical_condition',
  lastVisit: 'last_visit',
};

/** The SQL for a field's text form: what json-server's `String(value)` gives. */
const TEXT_FORM: Record<PatientField, string> = {
  id: 'id::text',
  patientID: 'patient_id',
  name: 'name',
  age: 'age::text',
  gender: 'gender',
  medicalCondition: 'medical_condition',
  lastVisit: `to_char(last_visit, 'YYYY-MM-DD')`,
};

/** The sort expression: numbers numerically, strings in code-point order, dates chronologically. */
const SORT_FORM: Record<PatientField, string> = {
  id: 'id',
  patientID: 'patient_id collate "C"',
  name: 'name collate "C"',
  age: 'age',
  gender: 'gender collate "C"',
  medicalCondition: 'medical_condition collate "C"',
  lastVisit: 'last_visit',
};

export const SELECT_PATIENT = `id, patient_id as "patientID", name, age, gender, medical_condition as "medicalCondition", to_char(last_visit, 'YYYY-MM-DD') as "lastVisit"`;
/**
 * The same columns for `json_agg`: PostgreSQL writes a `date` into JSON as `YYYY-MM-DD` whatever
 * the DateStyle, so the (costly) `to_char` is not needed there.
 */
const SELECT_PATIENT_JSON = `id, patient_id as "patientID", name, age, gender, medical_condition as "medicalCondition", last_visit as "lastVisit"`;

interface Fragment {
  sql: string;
  bindings: unknown[];
}

function condition(c: Condition): Fragment {
  switch (c.op) {
    case 'none':
      return { sql: 'false', bindings: [] };
    case 'in':
    case 'notIn': {
      if (c.values.length === 0) return { sql: c.op === 'in' ? 'false' : 'true', bindings: [] };
      // One array parameter (typed after the column by PostgreSQL), not one per value: the SQL
      // text, hence the prepared statement, is the same for any number of values.
      return { sql: `${COLUMN[c.field]} ${c.op === 'in' ? '= any(?)' : '<> all(?)'}`, bindings: [c.values] };
    }
    case 'gte':
    case 'lte': {
      const cmp = c.op === 'gte' ? '>=' : '<=';
      const kind = FIELD_KIND[c.field];
      if (kind === 'int') return intRange(COLUMN[c.field], c.op, Number(c.value));
      // A full date compares like its text form; anything else compares as text.
      if (kind === 'date' && typeof c.value === 'string' && canonicalDate(c.value)) {
        return { sql: `last_visit ${cmp} ?::date`, bindings: [c.value] };
      }
      return { sql: `${TEXT_FORM[c.field]} collate "C" ${cmp} ?`, bindings: [String(c.value)] };
    }
    case 'regex':
      return { sql: `${TEXT_FORM[c.field]} ~* ?`, bindings: [c.pattern] };
  }
}

/**
 * `int >= 40.5` is `int >= 41`: comparing with an int bound keeps the column's index usable
 * (casting the column to numeric would not).
 */
function intRange(column: string, op: 'gte' | 'lte', bound: number): Fragment {
  const n = op === 'gte' ? Math.ceil(bound) : Math.floor(bound);
  if (n > INT_MAX) return { sql: op === 'gte' ? 'false' : 'true', bindings: [] };
  if (n < INT_MIN) return { sql: op === 'gte' ? 'true' : 'false', bindings: [] };
  return { sql: `${column} ${op === 'gte' ? '>=' : '<='} ?`, bindings: [n] };
}

/**
 * json-server's `q`: a case-insensitive substring of any field's text form (it skips falsy
 * values, like an age of 0). The fields are joined with a separator no search can contain, so
 * one `lower()` per row does the work of seven.
 */
const SEARCH_TEXT = `lower(concat_ws(chr(1), id::text, patient_id, name, case when age <> 0 then age::text end, gender, medical_condition, to_char(last_visit, 'YYYY-MM-DD')))`;

function search(q: string): Fragment {
  if (q.includes('\u0001')) return { sql: 'false', bindings: [] };
  return { sql: `strpos(${SEARCH_TEXT}, lower(?)) > 0`, bindings: [q] };
}

function whereClause(query: ListQuery): Fragment {
  const fragments = query.where.map(condition);
  if (query.q !== undefined) fragments.push(search(query.q));
  // In a canonical order (each fragment keeps its own bindings): `?a=1&b=2` and `?b=2&a=1` are
  // one statement text, so one prepared statement.
  fragments.sort((x, y) => (x.sql < y.sql ? -1 : x.sql > y.sql ? 1 : 0));
  if (fragments.length === 0) return { sql: '', bindings: [] };
  return {
    sql: ` where ${fragments.map((f) => `(${f.sql})`).join(' and ')}`,
    bindings: fragments.flatMap((f) => f.bindings),
  };
}

function orderClause(query: ListQuery): string {
  const parts: string[] = [];
  for (const key of query.sort) {
    parts.push(`${SORT_FORM[key.field]}${key.desc ? ' desc' : ''}`);
    if (key.field === 'id') return ` order by ${parts.join(', ')}`;
  }
  // Ties keep storage order (ascending id), even for descending keys: lodash's stable sort.
  parts.push('id');
  return ` order by ${parts.join(', ')}`;
}

export interface ListResult {
  items: PatientDto[];
  /** Number of matches before slicing (only when `withTotal`). */
  total?: number;
}

function pageQuery(query: ListQuery, columns = SELECT_PATIENT): Fragment & { where: Fragment } {
  const where = whereClause(query);
  let sql = `select ${columns} from patients${where.sql}${orderClause(query)}`;
  const bindings = [...where.bindings];
  if (query.limit !== null) {
    sql += ' limit ?';
    bindings.push(query.limit);
  }
  if (query.offset > 0) {
    sql += ' offset ?';
    bindings.push(query.offset);
  }
  return { sql, bindings, where };
}

/** The number of matches before slicing, counting only when the page does not already tell. */
async function totalOf(db: SqlClient, query: ListQuery, where: Fragment, returned: number): Promise<number> {
  if (query.offset === 0 && (query.limit === null || returned < query.limit)) return returned;
  const [row] = await db.query<{ total: number }>(`select count(*)::int as total from patients${where.sql}`, where.bindings);
  return row?.total ?? 0;
}

export async function listPatients(db: SqlClient, query: ListQuery): Promise<ListResult> {
  const { sql, bindings, where } = pageQuery(query);
  const items = await db.query<PatientDto>(sql, bindings);
  if (!query.withTotal) return { items };
  return { items, total: await totalOf(db, query, where, items.length) };
}

export interface JsonListResult {
  /** The page as a JSON array, built by PostgreSQL (`json_agg` over the page query, in its order). */
  json: string;
  returned: number;
  total?: number;
}

/**
 * The same page, serialised by PostgreSQL: no row objects, no validation, no `JSON.stringify` in
 * the service for large lists. The column list of `SELECT_PATIENT` is the whitelist of keys.
 */
export async function listPatientsJson(db: SqlClient, query: ListQuery): Promise<JsonListResult> {
  const { sql, bindings, where } = pageQuery(query, SELECT_PATIENT_JSON);
  const [row] = await db.query<{ json: string; n: number }>(
    `select coalesce(json_agg(page), '[]')::text as json, count(*)::int as n from (${sql}) as page`,
    bindings,
  );
  const returned = row?.n ?? 0;
  const result: JsonListResult = { json: row?.json ?? '[]', returned };
  if (query.withTotal) result.total = await totalOf(db, query, where, returned);
  return result;
}

/** The patients with these ids, in no particular order; an id with no patient is left out. */
export function patientsById(db: SqlClient, ids: number[]): Promise<PatientDto[]> {
  // One array parameter: one statement text (and one prepared statement) for any number of ids.
  return db.query<PatientDto>(`select ${SELECT_PATIENT} from patients where id = any(?)`, [ids]);
}

/** Deletes one patient; false when there was no such id. */
export async function deletePatient(db: SqlClient, id: number): Promise<boolean> {
  const deleted = await db.query('delete from patients where id = ? returning id', [id]);
  return deleted.length > 0;
}

/** The columns written on create, in order (created_at/updated_at take their defaults, now()). */
const INSERT_COLUMNS = 'patient_id, name, age, gender, medical_condition, last_visit';
const insertValues = (p: Omit<PatientDto, 'id'>) => [p.patientID, p.name, p.age, p.gender, p.medicalCondition, p.lastVisit];

/**
 * Stores one patient; resolves with the row as stored (what a later read returns), not with the
 * input: the answer to a create must be what the database holds.
 */
export async function insertPatient(db: SqlClient, patient: Omit<PatientDto, 'id'>): Promise<PatientDto> {
  const [row] = await db.query<PatientDto>(`insert into patients (${INSERT_COLUMNS}) values (?, ?, ?, ?, ?, ?) returning ${SELECT_PATIENT}`, insertValues(patient));
  return row!;
}

/**
 * Stores several patients in one statement (all or none): one array parameter per column, turned
 * back into rows by `unnest`, so the text is the same whatever the count and is prepared once.
 *
 * Each stored row is matched to its request by position, never by a value (a stored value may
 * differ from the one sent, and two requests may carry equal ones). The statement takes each
 * row's id from the sequence itself, next to the row's position (`with ordinality`), inserts the
 * rows with those ids and joins the stored rows back to their positions on the id it chose. That
 * holds by construction, without relying on the order in which PostgreSQL would call the column
 * default or return rows. (`nextval` of the sequence is exactly the column's default.)
 *
 * Resolves with the stored row of each input, in input order; undefined for an input whose row
 * was not stored although the statement succeeded (only a trigger could do that).
 */
export async function insertPatients(db: SqlClient, patients: Omit<PatientDto, 'id'>[]): Promise<(PatientDto | undefined)[]> {
  const columns: unknown[][] = [[], [], [], [], [], []];
  for (const p of patients) insertValues(p).forEach((v, i) => columns[i]!.push(v));
  const rows = await db.query<PatientDto & { ord: number }>(
    `with requested as (
       select nextval('patients_id_seq') as id, r.*
       from unnest(?::varchar[], ?::varchar[], ?::int[], ?::varchar[], ?::varchar[], ?::date[]) with ordinality as r(${INSERT_COLUMNS}, ord)
     ), stored as (
       insert into patients (id, ${INSERT_COLUMNS}) select id, ${INSERT_COLUMNS} from requested returning ${SELECT_PATIENT}
     )
     select stored.*, requested.ord::int as ord from stored join requested on requested.id = stored.id`,
    columns,
  );
  const byPosition: (PatientDto | undefined)[] = patients.map(() => undefined);
  for (const { ord, ...row } of rows) byPosition[ord - 1] = row;
  return byPosition;
}

/** The columns of the API fields a client can write (every field but `id`). */
const { id: _id, ...WRITABLE } = COLUMN;

/**
 * Sets the given fields of one patient and returns the stored row, in one statement (no read
 * before the write, no transaction around a single statement). Undefined when no such id.
 */
export async function updatePatient(db: SqlClient, id: number, fields: Partial<PatientDto>): Promise<PatientDto | undefined> {
  const { sets, bindings } = setClause(fields);
  const [row] = await db.query<PatientDto>(`update patients set ${sets} where id = ? returning ${SELECT_PATIENT}`, [...bindings, id]);
  return row;
}

function setClause(fields: Partial<PatientDto>) {
  const sets: string[] = [];
  const bindings: unknown[] = [];
  for (const field of Object.keys(WRITABLE) as (keyof typeof WRITABLE)[]) {
    if (fields[field] === undefined) continue;
    sets.push(`${WRITABLE[field]} = ?`);
    bindings.push(fields[field]);
  }
  sets.push('updated_at = now()');
  return { sets: sets.join(', '), bindings };
}

/**
 * Sets `fields` on one patient like `updatePatient`, and returns the row as it was *before*
 * (locked first, so it is the latest committed version). Used to apply several queued changes of
 * one patient in one statement while still knowing each change's own result.
 */
export async function updatePatientReturningOld(db: SqlClient, id: number, fields: Partial<PatientDto>): Promise<PatientDto | undefined> {
  const { sets, bindings } = setClause(fields);
  const [row] = await db.query<PatientDto>(
    `update patients as p set ${sets} from (select ${SELECT_PATIENT} from patients where id = ? for update) as old where p.id = old.id returning old.*`,
    [...bindings, id],
  );
  return row;
}

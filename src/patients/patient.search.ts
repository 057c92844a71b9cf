import { z } from 'zod';
import { GENDERS } from './patient.entity.ts';
import {
  PATIENT_FIELDS,
  MAX_LIKE_PATTERN_LENGTH,
  toPostgresRegex,
  type Condition,
  type ListQuery,
  type PatientField,
} from './patient.query.ts';
import { patientOutput, wellFormed } from './patient.schemas.ts';

/**
 * `patient.search`: the typed way to ask what `GET /patients?...` asks in json-server's string
 * syntax. Same semantics (exact/ne/range/regex per field, `q` over every field, stable multi-key
 * sort, offset/limit) and it always returns the total.
 */
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).max(100)]);

const filterOf = <T extends z.ZodType>(value: T) =>
  z
    .strictObject({
      /** equals one of */
      eq: oneOrMany(value).optional(),
      /** equals none of */
      ne: oneOrMany(value).optional(),
      gte: value.optional(),
      lte: value.optional(),
      /** case-insensitive regular expression on the text form (its syntax is checked by toPostgresRegex) */
      like: wellFormed(z.string()).max(MAX_LIKE_PATTERN_LENGTH).optional(),
    })
    .optional();

const int = z.number().int();
// Well-formed like every stored text: the driver would turn a lone surrogate into U+FFFD and
// silently search for something the client did not ask for.
const text = wellFormed(z.string()).max(255);

export const patientSearchInput = z.strictObject({
  filter: z
    .strictObject({
      id: filterOf(int),
      patientID: filterOf(text),
      name: filterOf(text),
      age: filterOf(int),
      gender: filterOf(z.enum(GENDERS)),
      medicalCondition: filterOf(text),
      lastVisit: filterOf(z.iso.date()),
    })
    .optional(),
  /** case-insensitive substring over every field */
  q: wellFormed(z.string()).min(1).max(200).optional(),
  sort: z
    .array(z.strictObject({ field: z.enum(PATIENT_FIELDS), order: z.enum(['asc', 'desc']).default('asc') }))
    .max(PATIENT_FIELDS.length)
    .optional(),
  offset: z.number().int().min(0).max(10_000_000).default(0),
  limit: z.number().int().min(1).max(1000).optional(),
});
export type PatientSearchInput = z.input<typeof patientSearchInput>;

export const patientSearchOutput = z.object({ items: z.array(patientOutput), total: z.number().int() });

const list = (v: unknown): (string | number)[] => (Array.isArray(v) ? v : [v]) as (string | number)[];

export function toListQuery(input: z.output<typeof patientSearchInput>): ListQuery {
  const where: Condition[] = [];
  for (const [name, f] of Object.entries(input.filter ?? {})) {
    if (!f) continue;
    const field = name as PatientField;
    if (f.eq !== undefined) where.push({ op: 'in', field, values: list(f.eq) });
    if (f.ne !== undefined) where.push({ op: 'notIn', field, values: list(f.ne) });
    if (f.gte !== undefined) where.push({ op: 'gte', field, value: f.gte as string | number });
    if (f.lte !== undefined) where.push({ op: 'lte', field, value: f.lte as string | number });
    if (f.like !== undefined) where.push({ op: 'regex', field, pattern: toPostgresRegex(f.like) });
  }
  return {
    where,
    ...(input.q !== undefined ? { q: input.q } : {}),
    sort: (input.sort ?? []).map((s) => ({ field: s.field, desc: s.order === 'desc' })),
    offset: input.offset,
    limit: input.limit ?? null,
    withTotal: true,
  };
}

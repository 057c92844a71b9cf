import { z } from 'zod';
import { GENDERS, MAX_AGE, MIN_AGE } from './patient.entity.ts';
import { canonicalInt, INT_MAX } from './patient.query.ts';

/**
 * The API's patient shapes, shared by tRPC, the REST shim (trpc-to-openapi), the seeder and the
 * tests. Field names are json-server's camelCase (`patientID`, `medicalCondition`, `lastVisit`).
 *
 * `age` is wrapped in a pipe on purpose: on every REST call trpc-to-openapi sets `coerce = true`
 * on the plain number fields of an input schema (the object is shared with tRPC), after which
 * `null` and `""` would turn into 0. It does not look inside pipes.
 */
/**
 * Text that PostgreSQL stores exactly as sent. A lone UTF-16 surrogate (JSON `"\ud800"`) has no
 * UTF-8 form: the driver would write U+FFFD instead, and the client would be answered with a value
 * that was never stored. Every text input (here, the search filters, the importer) goes through it.
 * The message never repeats the value (it is patient data).
 */
export const wellFormed = <T extends z.ZodString>(schema: T): T =>
  schema.refine((s) => s.isWellFormed(), 'must be well-formed Unicode text (no lone surrogates)');

const text = (max: number) =>
  wellFormed(z.string())
    .max(max)
    .regex(/\S/, 'must not be blank')
    // PostgreSQL text cannot hold NUL; reject it here instead of failing in the driver.
    .regex(/^[^\u0000]*$/, 'must not contain NUL characters');

/**
 * One valid patient, shown in the OpenAPI document. Swagger UI builds its request bodies from the
 * fields' `examples`; without them it would send "string" and today's date-time, which fail
 * validation. tests/openapi.test.ts parses every example in the document and POSTs this one.
 */
const EXAMPLE = {
  patientID: 'P100',
  name: 'Ada Byron',
  age: 36,
  gender: 'Female',
  medicalCondition: 'Migraine',
  lastVisit: '2024-06-01',
} as const;

/** How `age` is documented: zod-openapi shows only a pipe's input side (a bare integer). */
const AGE_JSON_SCHEMA = { type: 'integer', minimum: MIN_AGE, maximum: MAX_AGE } as const;

export const patientFields = {
  patientID: text(50).meta({ examples: [EXAMPLE.patientID] }),
  name: text(255).meta({ examples: [EXAMPLE.name] }),
  age: z
    .number()
    .int()
    .pipe(z.number().min(MIN_AGE).max(MAX_AGE))
    .meta({ examples: [EXAMPLE.age], override: AGE_JSON_SCHEMA }),
  gender: z.enum(GENDERS).meta({ examples: [EXAMPLE.gender] }),
  medicalCondition: text(255).meta({ examples: [EXAMPLE.medicalCondition] }),
  // PostgreSQL dates start at year 1 (zod's ISO date also allows 0000).
  lastVisit: z.iso
    .date()
    .refine((d) => !d.startsWith('0000'), 'year must be 0001 or later')
    .meta({ examples: [EXAMPLE.lastVisit] }),
};

/** What a client sends to create a patient. Unknown keys (an `id`, timestamps) are rejected. */
export const patientInput = z.strictObject(patientFields).meta({ id: 'PatientInput' });
export type PatientInput = z.infer<typeof patientInput>;

/** What every surface returns for a patient: exactly these seven keys (the output whitelist). */
export const patientOutput = z
  .object({
    id: z.number().int().positive(),
    patientID: z.string(),
    name: z.string(),
    // Stored ages are 0–150 (a database check), so this never rejects a row; it documents the range.
    age: z.number().int().min(MIN_AGE).max(MAX_AGE),
    gender: z.enum(GENDERS),
    medicalCondition: z.string(),
    lastVisit: z.iso.date(),
  })
  .meta({ id: 'Patient', examples: [{ id: 1, ...EXAMPLE }] });
export type PatientDto = z.infer<typeof patientOutput>;

/**
 * A patient id as a path parameter or a typed number. json-server matches `String(id) === segment`,
 * so only the canonical decimal form of a positive integer can name a patient (`01`, `1.0`, `abc`
 * name nobody: 404). Parses to the id, or null for "no such patient".
 */
export const patientIdParam = z
  .union([z.number(), z.string()])
  .transform((v) => {
    const n = typeof v === 'number' ? v : (canonicalInt(v) ?? NaN);
    return Number.isInteger(n) && n >= 1 && n <= INT_MAX ? n : null;
  })
  // `param.example`: zod-openapi puts a path parameter's example on the parameter, not its schema.
  .meta({ description: 'Patient id (a positive integer)', param: { example: 1 } });

/** PUT: a whole patient. A body `id` is ignored (the path names the patient), like json-server. */
export const patientReplaceInput = patientInput.extend({ id: patientIdParam });
/** PATCH: any subset of the fields. */
export const patientPatchInput = z.strictObject(patientFields).partial().extend({ id: patientIdParam });
export const patientIdInput = z.object({ id: patientIdParam });

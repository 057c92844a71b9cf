import type { z } from 'zod';
import { patients } from './patient.fields.ts';

/**
 * The API's patient shapes, derived from the field descriptor (patient.fields.ts) and shared by
 * tRPC, the REST shim (trpc-to-openapi), the importer and the tests.
 */

/** What a client sends to create a patient. Unknown keys (an `id`, timestamps) are rejected. */
export const patientInput = patients.input;
export type PatientInput = z.infer<typeof patientInput>;

/** What every surface returns for a patient: exactly these keys (the output whitelist). */
export const patientOutput = patients.output;
export type PatientDto = z.infer<typeof patientOutput>;

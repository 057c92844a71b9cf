import { createRecordService, type RecordService } from '../core/record-service.ts';
import type { SqlClient } from '../db/sql-client.ts';
import { patients } from './patient.fields.ts';
import type { PatientDto, PatientInput } from './patient.schemas.ts';

/** Patient use cases: the generic record service over the patient descriptor. */
export const createPatientService = (db: SqlClient) => createRecordService<PatientDto, PatientInput>(db, patients);

export type PatientService = RecordService<PatientDto, PatientInput>;

import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { SqlClient } from '../db/sql-client.ts';
import { TRPCError } from '@trpc/server';
import type { ListQuery } from './patient.query.ts';
import type { PatientDto, PatientInput } from './patient.schemas.ts';
import { createInsertBatcher, createUpdateBatcher } from './patient.batch.ts';
import { listPatients, listPatientsJson, SELECT_PATIENT, type JsonListResult, type ListResult } from './patient.sql.ts';

const notFound = () => new TRPCError({ code: 'NOT_FOUND', message: 'Patient not found' });
const conflict = () => new TRPCError({ code: 'CONFLICT', message: 'A patient with this patientID already exists' });

/**
 * Patient use cases. Created once per process (it keeps no request state; the insert batcher is
 * shared by all requests). `id` null means "no such id can exist".
 */
export function createPatientService(db: SqlClient) {
  const inserts = createInsertBatcher(db);
  const updates = createUpdateBatcher(db);
  const updateOne = async (id: number | null, fields: Partial<PatientInput>) => {
    if (id === null) throw notFound();
    let row: PatientDto | undefined;
    try {
      row = await updates.update(id, fields);
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) throw conflict();
      throw error;
    }
    if (!row) throw notFound();
    return row;
  };

  return {
    list(query: ListQuery): Promise<ListResult> {
      return listPatients(db, query);
    },

    /** The same list as JSON text made by PostgreSQL (for transports that can send it as is). */
    listJson(query: ListQuery): Promise<JsonListResult> {
      return listPatientsJson(db, query);
    },

    async byId(id: number | null): Promise<PatientDto> {
      if (id === null) throw notFound();
      const [row] = await db.query<PatientDto>(`select ${SELECT_PATIENT} from patients where id = ?`, [id], 'patient_by_id');
      if (!row) throw notFound();
      return row;
    },

    /** One insert, alone or grouped with the creates arriving at the same time (patient.batch.ts). */
    async create(input: PatientInput): Promise<PatientDto> {
      try {
        return { id: await inserts.insert(input), ...input };
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) throw conflict();
        throw error;
      }
    },

    /** PUT: every field replaced in one `update ... returning`; id and createdAt stay. */
    async replace(id: number | null, input: PatientInput): Promise<PatientDto> {
      return updateOne(id, input);
    },

    /** PATCH: only the given fields change, in the same single statement. */
    async update(id: number | null, patch: Partial<PatientInput>): Promise<PatientDto> {
      return updateOne(id, patch);
    },

    async remove(id: number | null): Promise<void> {
      if (id === null) throw notFound();
      const deleted = await db.query('delete from patients where id = ? returning id', [id], 'patient_delete');
      if (deleted.length === 0) throw notFound();
    },
  };
}

export type PatientService = ReturnType<typeof createPatientService>;

import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { SqlClient } from '../db/sql-client.ts';
import { TRPCError } from '@trpc/server';
import type { ListQuery } from './patient.query.ts';
import type { PatientDto, PatientInput } from './patient.schemas.ts';
import { createInsertBatcher, createReadBatcher, createUpdateBatcher } from './patient.batch.ts';
import { deletePatient, listPatients, listPatientsJson, type JsonListResult, type ListResult } from './patient.sql.ts';

const notFound = () => new TRPCError({ code: 'NOT_FOUND', message: 'Patient not found' });
const conflict = () => new TRPCError({ code: 'CONFLICT', message: 'A patient with this patientID already exists' });

/** A patientID clash (the only unique rule besides the id) as this API's 409. */
async function orConflict<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw conflict();
    throw error;
  }
}

/**
 * Patient use cases. Created once per process (it keeps no request state; its batchers are shared
 * by all requests). `id` null means "no such id can exist".
 */
export function createPatientService(db: SqlClient) {
  const reads = createReadBatcher(db);
  const inserts = createInsertBatcher(db);
  const updates = createUpdateBatcher(db);
  const updateOne = async (id: number | null, fields: Partial<PatientInput>) => {
    if (id === null) throw notFound();
    const row = await orConflict(updates.update(id, fields));
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

    /** One read, alone or grouped with the reads by id arriving at the same time (patient.batch.ts). */
    async byId(id: number | null): Promise<PatientDto> {
      if (id === null) throw notFound();
      const row = await reads.byId(id);
      if (!row) throw notFound();
      return row;
    },

    /**
     * One insert, alone or grouped with the creates arriving at the same time (patient.batch.ts).
     * Answers the row as stored, like replace and update, never the input echoed.
     */
    create(input: PatientInput): Promise<PatientDto> {
      return orConflict(inserts.insert(input));
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
      if (!(await deletePatient(db, id))) throw notFound();
    },
  };
}

export type PatientService = ReturnType<typeof createPatientService>;

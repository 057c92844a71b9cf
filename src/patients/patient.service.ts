import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { TRPCError } from '@trpc/server';
import { Patient } from './patient.entity.ts';
import { toPatientColumns, toPatientDto } from './patient.mapper.ts';
import type { ListQuery } from './patient.query.ts';
import type { PatientDto, PatientInput } from './patient.schemas.ts';
import { listPatients, listPatientsJson, SELECT_PATIENT, type JsonListResult, type ListResult } from './patient.sql.ts';

const notFound = () => new TRPCError({ code: 'NOT_FOUND', message: 'Patient not found' });
const conflict = () => new TRPCError({ code: 'CONFLICT', message: 'A patient with this patientID already exists' });

/** Patient use cases over a request-scoped EntityManager. `id` null means "no such id can exist". */
export function createPatientService(em: EntityManager) {
  /** Flushes, turning a patientID clash into 409. */
  const flush = async () => {
    try {
      await em.flush();
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) throw conflict();
      throw error;
    }
  };

  const load = async (id: number | null) => {
    const patient = id === null ? null : await em.findOne(Patient, id);
    if (!patient) throw notFound();
    return patient;
  };

  return {
    list(query: ListQuery): Promise<ListResult> {
      return listPatients(em, query);
    },

    /** The same list as JSON text made by PostgreSQL (for transports that can send it as is). */
    listJson(query: ListQuery): Promise<JsonListResult> {
      return listPatientsJson(em, query);
    },

    async byId(id: number | null): Promise<PatientDto> {
      if (id === null) throw notFound();
      const [row] = await em.execute<PatientDto[]>(`select ${SELECT_PATIENT} from patients where id = ?`, [id]);
      if (!row) throw notFound();
      return row;
    },

    async create(input: PatientInput): Promise<PatientDto> {
      const patient = em.create(Patient, toPatientColumns(input));
      await flush();
      return toPatientDto(patient);
    },

    /** PUT: every field replaced; id and createdAt stay. */
    async replace(id: number | null, input: PatientInput): Promise<PatientDto> {
      const patient = await load(id);
      em.assign(patient, toPatientColumns(input));
      await flush();
      return toPatientDto(patient);
    },

    /** PATCH: only the given fields change. */
    async update(id: number | null, patch: Partial<PatientInput>): Promise<PatientDto> {
      const patient = await load(id);
      const { id: _id, ...current } = toPatientDto(patient);
      em.assign(patient, toPatientColumns({ ...current, ...patch }));
      await flush();
      return toPatientDto(patient);
    },

    async remove(id: number | null): Promise<void> {
      if (id === null) throw notFound();
      const deleted = await em.nativeDelete(Patient, { id });
      if (deleted === 0) throw notFound();
    },
  };
}

export type PatientService = ReturnType<typeof createPatientService>;

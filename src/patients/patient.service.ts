import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { TRPCError } from '@trpc/server';
import { Patient } from './patient.entity.ts';
import { toPatientColumns, toPatientDto } from './patient.mapper.ts';
import type { PatientDto, PatientInput } from './patient.schemas.ts';

/** Patient use cases over a request-scoped EntityManager. */
export function createPatientService(em: EntityManager) {
  return {
    /** Every patient, ordered by id (json-server's storage order). */
    async list(): Promise<PatientDto[]> {
      const rows = await em.find(Patient, {}, { orderBy: { id: 'asc' } });
      return rows.map(toPatientDto);
    },

    async create(input: PatientInput): Promise<PatientDto> {
      const patient = em.create(Patient, toPatientColumns(input));
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) {
          throw new TRPCError({
            code: 'CONFLICT',
            message: 'A patient with this patientID already exists',
          });
        }
        throw error;
      }
      return toPatientDto(patient);
    },
  };
}

export type PatientService = ReturnType<typeof createPatientService>;

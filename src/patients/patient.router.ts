import { z } from 'zod';
import { publicProcedure, router } from '../trpc/init.ts';
import { patientInput, patientOutput, type PatientDto } from './patient.schemas.ts';
import { createPatientService } from './patient.service.ts';

const TAGS = ['patients'];

/** `patient.*`: the typed API, also served as json-server-compatible REST under /patients. */
export const patientRouter = router({
  list: publicProcedure
    .meta({
      openapi: { method: 'GET', path: '/patients', tags: TAGS, summary: 'List all patients, ordered by id', protect: false },
    })
    .input(z.object({}).optional())
    .output(z.array(patientOutput))
    .query(({ ctx }) => createPatientService(ctx.em).list()),

  create: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/patients',
        tags: TAGS,
        summary: 'Create a patient',
        description: 'Responds 201 with the stored patient and a Location header.',
        protect: false,
        successDescription: 'The created patient',
      },
      rest: { successStatus: 201, location: (p) => `/patients/${(p as PatientDto).id}` },
    })
    .input(patientInput)
    .output(patientOutput)
    .mutation(({ ctx, input }) => createPatientService(ctx.em).create(input)),
});

import { patients } from '../patients/patient.fields.ts';
import { healthProcedure } from './health.router.ts';
import { recordRouter } from './record-router.ts';
import { router } from './trpc.ts';

/**
 * The root router: one line per resource, nothing else. `patient.*` is also served as
 * json-server-compatible REST under /patients (list, byId, create, replace, update, delete);
 * `patient.search` is the typed twin of the list's query syntax.
 */
export const appRouter = router({
  patient: recordRouter(patients, { path: '/patients', noun: { one: 'patient', many: 'patients' } }),
  health: healthProcedure,
});

export type AppRouter = typeof appRouter;

import { healthProcedure } from '../health/health.router.ts';
import { patientRouter } from '../patients/patient.router.ts';
import { router } from './init.ts';

/** The root router: composes the feature routers, nothing else. */
export const appRouter = router({
  patient: patientRouter,
  health: healthProcedure,
});

export type AppRouter = typeof appRouter;

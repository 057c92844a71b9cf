import { healthProcedure } from './health.router.ts';
import { patientRouter } from './patient.router.ts';
import { router } from './trpc.ts';

/** The root router: composes the feature routers, nothing else. */
export const appRouter = router({
  patient: patientRouter,
  health: healthProcedure,
});

export type AppRouter = typeof appRouter;

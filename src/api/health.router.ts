import { z } from 'zod';
import { publicProcedure } from './trpc.ts';

const healthOutput = z
  .object({
    status: z.enum(['healthy', 'unhealthy']),
    database: z.enum(['connected', 'disconnected']),
    timestamp: z.iso.datetime(),
  })
  .meta({ id: 'Health', examples: [{ status: 'healthy', database: 'connected', timestamp: '2024-06-01T12:00:00.000Z' }] });
type Health = z.infer<typeof healthOutput>;

/** How long the database round trip may take before the service reports itself unhealthy. */
const HEALTH_TIMEOUT_MS = 1500;

/**
 * `health`: a real database round trip (`select 1`, bounded in time). It touches no patient
 * table. Over REST an unhealthy answer is sent with status 503.
 */
export const healthProcedure = publicProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/health',
      tags: ['health'],
      summary: 'Service and database health (503 when the database does not answer)',
      protect: false,
    },
    rest: { status: (h) => ((h as Health).status === 'healthy' ? 200 : 503) },
  })
  .input(z.void())
  .output(healthOutput)
  .query(async ({ ctx }) => {
    const up = await ctx.db.ping(HEALTH_TIMEOUT_MS);
    return {
      status: up ? 'healthy' : 'unhealthy',
      database: up ? 'connected' : 'disconnected',
      timestamp: new Date().toISOString(),
    } as const;
  });

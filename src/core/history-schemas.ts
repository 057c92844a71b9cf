import { z } from 'zod';
import { EVENT_OPS } from './history-sql.ts';
import { idParam } from './id-param.ts';

/** One change of a record, as both surfaces answer it (see history-sql.ts). */
export const historyEvent = z
  .object({
    id: z.number().int().positive(),
    op: z.enum(EVENT_OPS),
    at: z.iso.datetime(),
    actor: z.string(),
    requestId: z.string().nullable(),
    changes: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })),
  })
  .meta({
    id: 'HistoryEvent',
    examples: [
      {
        id: 42,
        op: 'update',
        at: '2024-06-01T12:00:00.000Z',
        actor: 'front-desk',
        requestId: '0d6f3e0e-3c1c-4f7e-9a53-2d9c7c1f5e10',
        changes: { age: { from: 36, to: 37 } },
      },
    ],
  });

/** `patient.history`: newest first, cursor-paged. */
export const historyOutput = z.object({ items: z.array(historyEvent), nextCursor: z.number().int().positive().nullable() });

const param = (description: string) =>
  z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe(description);

/** `GET /<collection>/{id}/history`: the id and json-server's paging parameters. */
export const historyListInput = z.looseObject({
  id: idParam,
  _page: param('page number from 1 (with _limit, default 10); sends X-Total-Count and Link'),
  _limit: param('page size with _page, or number of events from _start; sends X-Total-Count'),
  _start: param('index of the first event (with _end or _limit)'),
  _end: param('index after the last event; sends X-Total-Count'),
});

import { z } from 'zod';
import { protectedProcedure as procedure, router } from '../trpc/init.ts';
import { jsonServerHeaders, jsonServerListInput, parseJsonServerQuery } from './patient.query.jsonserver.ts';
import {
  patientIdInput,
  patientInput,
  patientOutput,
  patientPatchInput,
  patientReplaceInput,
} from './patient.schemas.ts';
import { patientSearchInput, patientSearchOutput, toListQuery } from './patient.search.ts';

const TAGS = ['patients'];
const openapi = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: `/${string}`, summary: string, description?: string) => ({
  openapi: { method, path, tags: TAGS, summary, protect: true, ...(description ? { description } : {}) },
});

/**
 * `patient.*`: the typed API. Every procedure with `openapi` meta is also served as
 * json-server-compatible REST under /patients; `search` is the typed twin of the list filters.
 */
export const patientRouter = router({
  list: procedure
    .meta(
      openapi(
        'GET',
        '/patients',
        'List patients (json-server query syntax)',
        'Without parameters: every patient, ordered by id. Filters, q, _sort/_order and _page/_limit/_start/_end work as in json-server 0.17.4; ' +
          'when slicing, X-Total-Count (and Link for _page) are sent and exposed through Access-Control-Expose-Headers.',
      ),
    )
    .input(jsonServerListInput)
    .output(z.array(patientOutput))
    .query(async ({ ctx, input }) => {
      const { query, paging } = parseJsonServerQuery(input ?? {});
      const service = ctx.patients;
      if (ctx.rawJson) {
        // The transport sends PostgreSQL's JSON text as it is; the empty array is a placeholder.
        const { json, returned, total } = await service.listJson(query);
        ctx.rawJson.body = json;
        Object.assign(ctx.responseHeaders, jsonServerHeaders(paging, total ?? returned, returned, ctx.http));
        return [];
      }
      const { items, total } = await service.list(query);
      Object.assign(ctx.responseHeaders, jsonServerHeaders(paging, total ?? items.length, items.length, ctx.http));
      return items;
    }),

  search: procedure
    .input(patientSearchInput)
    .output(patientSearchOutput)
    .query(async ({ ctx, input }) => {
      const { items, total } = await ctx.patients.list(toListQuery(input));
      return { items, total: total ?? items.length };
    }),

  byId: procedure
    .meta(openapi('GET', '/patients/{id}', 'Get one patient', '404 `{}` when no patient has this id.'))
    .input(patientIdInput)
    .output(patientOutput)
    .query(({ ctx, input }) => ctx.patients.byId(input.id)),

  create: procedure
    .meta({
      ...openapi('POST', '/patients', 'Create a patient', 'Responds 201 with the stored patient and a Location header.'),
      rest: { successStatus: 201 },
    })
    .input(patientInput)
    .output(patientOutput)
    .mutation(async ({ ctx, input }) => {
      const created = await ctx.patients.create(input);
      const { host, proto } = ctx.http;
      ctx.responseHeaders.location = host ? `${proto}://${host}/patients/${created.id}` : `/patients/${created.id}`;
      ctx.responseHeaders['access-control-expose-headers'] = 'Location';
      return created;
    }),

  replace: procedure
    .meta(openapi('PUT', '/patients/{id}', 'Replace a patient', 'Every field is required; the id cannot change.'))
    .input(patientReplaceInput)
    .output(patientOutput)
    .mutation(({ ctx, input: { id, ...fields } }) => ctx.patients.replace(id, fields)),

  update: procedure
    .meta(openapi('PATCH', '/patients/{id}', 'Change some fields of a patient', 'The id cannot change.'))
    .input(patientPatchInput)
    .output(patientOutput)
    .mutation(({ ctx, input: { id, ...fields } }) => ctx.patients.update(id, fields)),

  delete: procedure
    .meta(openapi('DELETE', '/patients/{id}', 'Delete a patient', 'Responds 200 `{}` like json-server.'))
    .input(patientIdInput)
    .output(z.object({}))
    .mutation(async ({ ctx, input }) => {
      await ctx.patients.remove(input.id);
      return {};
    }),
});

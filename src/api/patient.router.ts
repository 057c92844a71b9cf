import { z } from 'zod';
import { idInput } from '../core/id-param.ts';
import { jsonServerListInput, parseJsonServerQuery } from '../core/json-server-query.ts';
import { JsonText, valuesOrJsonText } from '../core/json-text.ts';
import { searchInput, searchOutput, searchToListQuery } from '../core/search-input.ts';
import { patients } from '../patients/patient.fields.ts';
import { patientInput, patientOutput, patientPatchInput, patientReplaceInput } from '../patients/patient.schemas.ts';
import { listHeaders, locationOf, type ListMeta } from './rest-headers.ts';
import { protectedProcedure as procedure, router } from './trpc.ts';

const TAGS = ['patients'];
const openapi = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: `/${string}`, summary: string, description?: string) => ({
  openapi: { method, path, tags: TAGS, summary, protect: true, ...(description ? { description } : {}) },
});

/**
 * `patient.*`: the typed API. Every procedure with `openapi` meta is also served as
 * json-server-compatible REST under /patients; `search` is the typed twin of the list filters.
 * Procedures only translate: input to a domain call, its result to the answer.
 */
export const patientRouter = router({
  list: procedure
    .meta({
      ...openapi(
        'GET',
        '/patients',
        'List patients (json-server query syntax)',
        'Without parameters: every patient, ordered by id. Filters, q, _sort/_order and _page/_limit/_start/_end work as in json-server 0.17.4; ' +
          'when slicing, X-Total-Count (and Link for _page) are sent and exposed through Access-Control-Expose-Headers.',
      ),
      rest: { headers: listHeaders },
    })
    .input(jsonServerListInput(patients))
    .output(valuesOrJsonText(z.array(patientOutput)))
    .query(async ({ ctx, input }) => {
      const { query, paging } = parseJsonServerQuery(patients, input ?? {});
      if (ctx.results === 'values') return (await ctx.patients.list(query)).items;
      // The page as PostgreSQL serialised it; the REST adapter builds the paging headers from `meta`.
      const { json, returned, total } = await ctx.patients.listJson(query);
      return new JsonText<ListMeta>(json, { paging, total: total ?? returned, returned }) as unknown as z.infer<typeof patientOutput>[];
    }),

  search: procedure
    .input(searchInput(patients))
    .output(searchOutput(patientOutput))
    .query(async ({ ctx, input }) => {
      const { items, total } = await ctx.patients.list(searchToListQuery(input));
      return { items, total: total ?? items.length };
    }),

  byId: procedure
    .meta(openapi('GET', '/patients/{id}', 'Get one patient', '404 `{}` when no patient has this id.'))
    .input(idInput)
    .output(patientOutput)
    .query(({ ctx, input }) => ctx.patients.byId(input.id)),

  create: procedure
    .meta({
      ...openapi('POST', '/patients', 'Create a patient', 'Responds 201 with the stored patient and a Location header.'),
      rest: { successStatus: 201, headers: locationOf('/patients') },
    })
    .input(patientInput)
    .output(patientOutput)
    .mutation(({ ctx, input }) => ctx.patients.create(input)),

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
    .input(idInput)
    .output(z.object({}))
    .mutation(async ({ ctx, input }) => {
      await ctx.patients.remove(input.id);
      return {};
    }),
});

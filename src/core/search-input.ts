import { z } from 'zod';
import type { Condition, ListQuery } from './list-query.ts';
import { MAX_LIKE_PATTERN_LENGTH, toPostgresRegex } from './regex.ts';
import { type Resource, wellFormed } from './resource.ts';

/**
 * The typed way to ask what `GET /<resource>?...` asks in json-server's string syntax (e.g.
 * `patient.search`). Same semantics (exact/ne/range/regex per field, `q` over every field, stable
 * multi-key sort, offset/limit) and it always returns the total.
 */
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).max(100)]);

const filterOf = <T extends z.ZodType>(value: T) =>
  z
    .strictObject({
      /** equals one of */
      eq: oneOrMany(value).optional(),
      /** equals none of */
      ne: oneOrMany(value).optional(),
      gte: value.optional(),
      lte: value.optional(),
      /** case-insensitive regular expression on the text form (its syntax is checked by toPostgresRegex) */
      like: wellFormed(z.string()).max(MAX_LIKE_PATTERN_LENGTH).optional(),
    })
    .optional();

type FilterOf<T extends z.ZodType> = ReturnType<typeof filterOf<T>>;

/** The search input of a resource whose fields are `F`. */
export function searchInput<R extends Resource>(r: R) {
  const filter = Object.fromEntries(r.names.map((n) => [n, filterOf(r.fields[n]!.filterValue)])) as {
    [K in R['names'][number]]: FilterOf<R['fields'][K]['filterValue']>;
  };
  return z.strictObject({
    filter: z.strictObject(filter).optional(),
    /** case-insensitive substring over every field */
    q: wellFormed(z.string()).min(1).max(200).optional(),
    sort: z
      .array(
        z.strictObject({
          field: z.enum(r.names as [R['names'][number], ...R['names'][number][]]),
          order: z.enum(['asc', 'desc']).default('asc'),
        }),
      )
      .max(r.names.length)
      .optional(),
    offset: z.number().int().min(0).max(10_000_000).default(0),
    limit: z.number().int().min(1).max(1000).optional(),
  });
}

/** The answer: a page and the number of matches before slicing. */
export const searchOutput = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), total: z.number().int() });

const list = (v: unknown): (string | number)[] => (Array.isArray(v) ? v : [v]) as (string | number)[];

/** A validated search input, as the conversion reads it. */
export interface SearchValues {
  filter?: Record<string, { eq?: unknown; ne?: unknown; gte?: unknown; lte?: unknown; like?: string } | undefined> | undefined;
  q?: string | undefined;
  sort?: { field: string; order: 'asc' | 'desc' }[] | undefined;
  offset: number;
  limit?: number | undefined;
}

export function searchToListQuery(input: SearchValues): ListQuery {
  const where: Condition[] = [];
  for (const [field, f] of Object.entries(input.filter ?? {})) {
    if (!f) continue;
    if (f.eq !== undefined) where.push({ op: 'in', field, values: list(f.eq) });
    if (f.ne !== undefined) where.push({ op: 'notIn', field, values: list(f.ne) });
    if (f.gte !== undefined) where.push({ op: 'gte', field, value: f.gte as string | number });
    if (f.lte !== undefined) where.push({ op: 'lte', field, value: f.lte as string | number });
    if (f.like !== undefined) where.push({ op: 'regex', field, pattern: toPostgresRegex(f.like) });
  }
  return {
    where,
    ...(input.q !== undefined ? { q: input.q } : {}),
    sort: (input.sort ?? []).map((s) => ({ field: s.field, desc: s.order === 'desc' })),
    offset: input.offset,
    limit: input.limit ?? null,
    withTotal: true,
  };
}

import { z } from 'zod';
import { canonicalInt } from './list-query.ts';
import { INT_MAX } from './resource.ts';

/**
 * A record id as a path parameter or a typed number. json-server matches `String(id) === segment`,
 * so only the canonical decimal form of a positive integer can name a record (`01`, `1.0`, `abc`
 * name nobody: 404). Parses to the id, or null for "no such record".
 */
export const idParam = z
  .union([z.number(), z.string()])
  .transform((v) => {
    const n = typeof v === 'number' ? v : (canonicalInt(v) ?? Number.NaN);
    return Number.isInteger(n) && n >= 1 && n <= INT_MAX ? n : null;
  })
  // `param.example`: zod-openapi puts a path parameter's example on the parameter, not its schema.
  .meta({ description: 'Record id (a positive integer)', param: { example: 1 } });

export const idInput = z.object({ id: idParam });

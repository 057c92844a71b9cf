/**
 * An array parameter behind a one-row subquery: `(select ?::int[])::int[]` (the outer cast keeps it
 * an array expression inside `= any(...)`, which would read a bare subquery as rows to compare).
 *
 * Grouped statements take one array per column (`unnest(?)`, `= any(?)`), so their text, hence
 * their prepared statement, is the same for any group size. But when PostgreSQL plans for the
 * parameters' values (a "custom plan", its default for a prepared statement's first executions
 * and whenever that looks cheaper), it sizes the array it is given, so the estimated cost follows
 * the group's size. A generic plan, which cannot know the size, then never looks cheaper, and every
 * execution is planned anew: 0.4 ms of a page group's 1.5 ms (docs/performance.md). Behind a
 * subquery the array is known only when the statement runs, custom and generic plans estimate
 * alike, and after its first five executions a prepared statement runs its generic plan without
 * planning. The plan's shape is the same either way (the size is never what picks an index).
 */
export const arrayParam = (arrayType: string) => `(select ?::${arrayType})::${arrayType}`;

/** Several array parameters, comma-separated, for `unnest(...)` of one array per column. */
export const arrayParams = (...arrayTypes: string[]) => arrayTypes.map((type) => arrayParam(type)).join(', ');

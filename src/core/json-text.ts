import { z } from 'zod';

/**
 * A result that is already JSON text, e.g. a page of rows serialised by PostgreSQL (`json_agg`).
 *
 * A transport that writes JSON takes the text as it is (`claim()`), instead of parsing and
 * re-serialising it: the REST adapter and tRPC's single calls do. Anywhere else, e.g. inside a
 * batched tRPC response, `JSON.stringify` sees the value the text stands for, so the answer is the
 * same either way. `meta` carries what a transport may need besides the body (a list's total).
 */
export class JsonText<M = unknown> {
  #claimed = false;
  /**
   * `without`: the same value without some keys, as text too, for a transport that sends those
   * keys elsewhere (REST sends a record's version as its ETag).
   */
  constructor(
    readonly text: string,
    readonly meta: M,
    private readonly without?: { keys: readonly string[]; text: string },
  ) {}

  /** The text, for a transport that sends it itself; serialising this object then costs nothing. */
  claim(): string {
    this.#claimed = true;
    return this.text;
  }

  /** The text of the value without `keys` (an object's), claimed likewise. */
  claimWithout(keys: readonly string[]): string {
    this.#claimed = true;
    const { without } = this;
    if (without && without.keys.length === keys.length && keys.every((key) => without.keys.includes(key))) return without.text;
    const value = JSON.parse(this.text) as Record<string, unknown>;
    for (const key of keys) delete value[key];
    return JSON.stringify(value);
  }

  toJSON(): unknown {
    return this.#claimed ? null : JSON.parse(this.text);
  }
}

/**
 * An output schema for a procedure that answers either values, validated by `schema` (in-process
 * callers, tests), or their JSON text (transports). The text is not parsed to be validated: it is
 * built by SQL derived from the same field descriptor, and tests/procedures.test.ts checks its
 * shape against `schema`. Typed as `schema`'s output: that is what every client receives.
 */
export function valuesOrJsonText<S extends z.ZodType>(schema: S): z.ZodType<z.output<S>, z.input<S>> {
  // JsonText first: a transport's answer is recognised by one instanceof, before any parsing.
  const either = z.union([z.instanceof(JsonText).meta({ override: { not: {} } }), schema]).meta({
    // Documented as `schema` alone: the JSON text is a value of it on the wire.
    override: ({ jsonSchema }: { jsonSchema: Record<string, unknown> }) => {
      const documented = (jsonSchema.anyOf as Record<string, unknown>[]).find((branch) => !('not' in branch));
      delete jsonSchema.anyOf;
      Object.assign(jsonSchema, documented);
    },
  });
  acceptingText.add(either);
  return either as unknown as z.ZodType<z.output<S>, z.input<S>>;
}

/** The schemas made by valuesOrJsonText. */
const acceptingText = new WeakSet<object>();

/**
 * Whether `schema` is one made by valuesOrJsonText, which passes a JsonText as it is: a caller may
 * then skip parsing a JsonText result (api/procedure-call.ts), since the parse would return it
 * unchanged.
 */
export const acceptsJsonText = (schema: unknown): boolean => typeof schema === 'object' && schema !== null && acceptingText.has(schema);

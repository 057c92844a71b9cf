import { z } from 'zod';

/**
 * A resource's fields, described once: the API name, the column, the value's kind, how it is
 * validated, and an example. Everything else about a field is derived from its descriptor: the
 * zod schemas of the API (input, patch, output), the typed search filters, json-server's query
 * parameters, the SQL select/insert/update lists and text, sort and search forms, and the OpenAPI
 * examples. tests/resource.test.ts checks each descriptor against the MikroORM entity metadata.
 */

/** How a value is stored, compared and written as text (json-server compares `String(value)`). */
export type FieldKind = 'int' | 'text' | 'date';

export interface Field<In extends z.ZodType | undefined = z.ZodType | undefined, Out extends z.ZodType = z.ZodType> {
  kind: FieldKind;
  /** The SQL column (snake_case). */
  column: string;
  /** The MikroORM entity property (checked against the entity metadata by a test). */
  property: string;
  /** How a client's value is validated on writes; undefined for read-only fields (the id). */
  input: In;
  /** What every surface answers (the output whitelist). */
  output: Out;
  /** A value for a typed search filter (`eq`, `gte`...), the same type as stored. */
  filterValue: z.ZodType;
  /** The only field besides the id whose value must be unique among the rows. */
  unique: boolean;
  /** Allowed values of an enumerated text field. */
  values?: readonly string[];
  /** The longest text a text field can hold (its varchar length). */
  maxLength?: number;
  /** Inclusive range of an int field. */
  range?: readonly [number, number];
  example: string | number;
}

/**
 * Text that PostgreSQL stores exactly as sent. A lone UTF-16 surrogate (JSON `"\ud800"`) has no
 * UTF-8 form: the driver would write U+FFFD instead, and the client would be answered with a value
 * that was never stored. Every text input (fields, search filters, the importer) goes through it.
 * The message never repeats the value (it may be patient data).
 */
export const wellFormed = <T extends z.ZodString>(schema: T): T =>
  schema.refine((s) => s.isWellFormed(), 'must be well-formed Unicode text (no lone surrogates)');

/** The range of PostgreSQL's `integer`. */
export const INT_MIN = -2_147_483_648;
export const INT_MAX = 2_147_483_647;

/** Search filter text: as long as the longest column, well-formed like every stored text. */
const FILTER_TEXT = wellFormed(z.string()).max(255);

const requiredText = (max: number) =>
  wellFormed(z.string())
    .max(max)
    .regex(/\S/, 'must not be blank')
    // PostgreSQL text cannot hold NUL; reject it here instead of failing in the driver.
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

interface Common {
  column: string;
  property: string;
}

/** The field constructors. A descriptor is `{ name: field.text({...}), ... }`. */
export const field = {
  /** The generated primary key: read-only, a positive int. */
  id: ({ column = 'id', property = 'id', example = 1 }: Partial<Common> & { example?: number } = {}) =>
    ({
      kind: 'int',
      column,
      property,
      input: undefined,
      output: z.number().int().positive(),
      filterValue: z.number().int(),
      unique: true,
      range: [1, INT_MAX],
      example,
    }) satisfies Field,

  /** Required, non-blank, well-formed text of at most `max` characters. */
  text: ({ max, unique = false, example, ...common }: Common & { max: number; unique?: boolean; example: string }) =>
    ({
      kind: 'text',
      ...common,
      input: requiredText(max).meta({ examples: [example] }),
      output: z.string(),
      filterValue: FILTER_TEXT,
      unique,
      maxLength: max,
      example,
    }) satisfies Field,

  /** One of a fixed set of strings (stored as varchar, checked by the database too). */
  enum: <const V extends readonly [string, ...string[]]>({ values, example, ...common }: Common & { values: V; example: V[number] }) =>
    ({
      kind: 'text',
      ...common,
      input: z.enum(values).meta({ examples: [example] }),
      output: z.enum(values),
      filterValue: z.enum(values),
      unique: false,
      values,
      example,
    }) satisfies Field,

  /**
   * An int in `[min, max]`. The input is wrapped in a pipe on purpose: on every REST call
   * trpc-to-openapi sets `coerce = true` on the plain number fields of an input schema (the
   * object is shared with tRPC), after which `null` and `""` would turn into 0. It does not look
   * inside pipes. zod-openapi shows only a pipe's input side, so the range is documented by hand.
   */
  int: ({ min, max, example, ...common }: Common & { min: number; max: number; example: number }) =>
    ({
      kind: 'int',
      ...common,
      input: z
        .number()
        .int()
        .pipe(z.number().min(min).max(max))
        .meta({ examples: [example], override: { type: 'integer', minimum: min, maximum: max } }),
      output: z.number().int().min(min).max(max),
      filterValue: z.number().int(),
      unique: false,
      range: [min, max],
      example,
    }) satisfies Field,

  /** A calendar date, `YYYY-MM-DD` (a `date` column: no timezone drift). */
  date: ({ example, ...common }: Common & { example: string }) =>
    ({
      kind: 'date',
      ...common,
      // PostgreSQL dates start at year 1 (zod's ISO date also allows 0000).
      input: z.iso
        .date()
        .refine((d) => !d.startsWith('0000'), 'year must be 0001 or later')
        .meta({ examples: [example] }),
      output: z.iso.date(),
      filterValue: z.iso.date(),
      unique: false,
      example,
    }) satisfies Field,
};

export type Fields = Record<string, Field>;
/** The fields a client writes (every field with an input schema). */
export type WritableName<F extends Fields> = { [K in keyof F]: F[K]['input'] extends z.ZodType ? K : never }[keyof F] & string;
type InputShape<F extends Fields> = { [K in WritableName<F>]: Exclude<F[K]['input'], undefined> };
type OutputShape<F extends Fields> = { [K in keyof F]: F[K]['output'] };

export interface ResourceSpec<F extends Fields> {
  /** Singular name, for schema ids and messages (`Patient`). */
  name: string;
  table: string;
  fields: F;
  /** The column set to now() on every update (besides the fields). */
  updatedAtColumn?: string;
  /**
   * The append-only table of changes, written by the statement of every write (record-sql.ts):
   * `{ table, column }`, `column` holding the record's id.
   */
  history?: { table: string; column: string };
  /**
   * The column counting the record's versions (1 on create, +1 per change), for optimistic
   * concurrency: answered as `version` beside the fields by single-record statements, never in lists.
   */
  versionColumn?: string;
}

/**
 * What derives from a descriptor: the API schemas and the SQL lists. Built once per resource.
 */
export function defineResource<const F extends Fields>(spec: ResourceSpec<F>) {
  type Name = keyof F & string;
  const names = Object.keys(spec.fields) as (keyof F & string)[];
  const fields = spec.fields;
  const writable = names.filter((n) => fields[n]!.input !== undefined) as WritableName<F>[];
  const idName = names.find((n) => fields[n]!.input === undefined && fields[n]!.column === 'id');
  if (!idName) throw new Error(`${spec.name}: no id field`);
  const uniqueNames = writable.filter((n) => fields[n]!.unique);

  const inputShape = Object.fromEntries(writable.map((n) => [n, fields[n]!.input])) as InputShape<F>;
  const outputShape = Object.fromEntries(names.map((n) => [n, fields[n]!.output])) as OutputShape<F>;
  const example = Object.fromEntries(names.map((n) => [n, fields[n]!.example]));
  const inputExample = Object.fromEntries(writable.map((n) => [n, fields[n]!.example]));

  /** The SQL for a field's text form: what json-server's `String(value)` gives. */
  const textForm = (n: keyof F & string) => {
    const { kind, column } = fields[n]!;
    return kind === 'int' ? `${column}::text` : kind === 'date' ? `to_char(${column}, 'YYYY-MM-DD')` : column;
  };
  /** The sort expression: numbers numerically, text in code-point order, dates chronologically. */
  const sortForm = (n: keyof F & string) => {
    const { kind, column } = fields[n]!;
    return kind === 'text' ? `${column} collate "C"` : column;
  };
  const alias = (n: string) => (fields[n]!.column === n ? n : `${fields[n]!.column} as "${n}"`);
  /** The row in the API's shape and key order; dates as `YYYY-MM-DD` text whatever the DateStyle. */
  function fieldsOf(table: string): string[] {
    const q = table ? `${table}.` : '';
    return names.map((n) => {
      const { kind, column } = fields[n]!;
      if (kind === 'date') return `to_char(${q}${column}, 'YYYY-MM-DD') as "${n}"`;
      return column === n && !q ? n : `${q}${column} as "${n}"`;
    });
  }
  /** A single record: its fields and, with a versionColumn, `version`. */
  function selectOf(table: string): string {
    const q = table ? `${table}.` : '';
    return [...fieldsOf(table), ...(spec.versionColumn ? [`${q}${spec.versionColumn} as "version"`] : [])].join(', ');
  }

  return {
    name: spec.name,
    table: spec.table,
    fields,
    names,
    writable,
    idName,
    /** Writable fields whose values must be unique (a clash is a 409). */
    uniqueNames,
    updatedAtColumn: spec.updatedAtColumn,
    history: spec.history,
    versionColumn: spec.versionColumn,
    /** A record with its version (tRPC's single-record answers); `version` only with a versionColumn. */
    versioned: z
      .object({ ...outputShape, version: spec.versionColumn ? z.number().int().positive() : z.undefined().optional() })
      .meta({ id: `Versioned${spec.name}`, examples: [{ ...example, ...(spec.versionColumn ? { version: 1 } : {}) }] }),
    isField(name: string): name is Name {
      return Object.hasOwn(fields, name);
    },
    column(n: Name) {
      return fields[n]!.column;
    },
    kind(n: Name) {
      return fields[n]!.kind;
    },
    textForm(n: Name) {
      return textForm(n);
    },
    sortForm(n: Name) {
      return sortForm(n);
    },

    /** What a client sends to create one. Unknown keys (an id, timestamps) are rejected. */
    input: z.strictObject(inputShape).meta({ id: `${spec.name}Input` }),
    /** Any subset of the writable fields (PATCH). */
    patch: z.strictObject(inputShape).partial(),
    /** What every surface returns: exactly these keys. */
    output: z.object(outputShape).meta({ id: spec.name, examples: [example] }),
    /** One valid input (OpenAPI examples, tests). */
    inputExample,

    /** The row in the API shape: exactly the fields (lists, export). */
    select: fieldsOf('').join(', '),
    /** A single record: the fields and its version (single-record statements). */
    selectRecord: selectOf(''),
    /** The same, each column qualified by a table alias (`t.patient_id as "patientID"`...). */
    selectOf,
    /** The same for `json_agg`: PostgreSQL writes a `date` into JSON as `YYYY-MM-DD` already. */
    selectForJson: names.map(alias).join(', '),
    /**
     * json-server's `q` haystack: every field's text form, falsy values (an age of 0) left out as
     * json-server does, joined by a separator no search can contain, lower-cased once per row.
     */
    searchText: `lower(concat_ws(chr(1), ${names
      .map((n) => (fields[n]!.kind === 'int' ? `case when ${fields[n]!.column} <> 0 then ${textForm(n)} end` : textForm(n)))
      .join(', ')}))`,
    /** A write in the entity's terms: API names turned into MikroORM property names. */
    toProperties(input: Record<string, unknown>): Record<string, unknown> {
      return Object.fromEntries(writable.filter((n) => input[n] !== undefined).map((n) => [fields[n]!.property, input[n]]));
    },
    /** `column` for each writable field, in order (insert lists). */
    insertColumns: writable.map((n) => fields[n]!.column).join(', '),
    /** The array type `unnest` reads each writable field's column from. */
    arrayTypes: writable.map((n) => ({ int: 'int[]', text: 'varchar[]', date: 'date[]' })[fields[n]!.kind]),
  };
}

/** What `defineResource` returns for fields `F`: the typed schemas and the SQL lists. */
export type DefinedResource<F extends Fields> = ReturnType<typeof defineResource<F>>;

/**
 * A resource as the generic parts (list queries, record statements, the record service) see it:
 * field names as plain strings. Every `defineResource` result is one.
 */
export interface Resource {
  readonly name: string;
  readonly table: string;
  readonly fields: Readonly<Record<string, Field>>;
  readonly names: readonly string[];
  readonly writable: readonly string[];
  readonly idName: string;
  readonly uniqueNames: readonly string[];
  readonly updatedAtColumn: string | undefined;
  readonly history: { table: string; column: string } | undefined;
  readonly versionColumn: string | undefined;
  selectOf(table: string): string;
  readonly selectRecord: string;
  isField(name: string): boolean;
  column(name: string): string;
  kind(name: string): FieldKind;
  textForm(name: string): string;
  sortForm(name: string): string;
  toProperties(input: Record<string, unknown>): Record<string, unknown>;
  readonly select: string;
  readonly selectForJson: string;
  readonly searchText: string;
  readonly insertColumns: string;
  readonly arrayTypes: readonly string[];
}

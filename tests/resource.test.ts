/**
 * The patient field descriptor (src/patients/patient.fields.ts) is where every API field is
 * spelled; the MikroORM entity (patient.entity.ts) is what migrations are generated from. They
 * must not drift: same columns, types, lengths, uniqueness and enum values, checked here against
 * MikroORM's own metadata and against the table the committed migrations actually create.
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Field } from '../src/core/resource.ts';
import { createOrmOptions } from '../src/db/orm-options.ts';
import { Patient } from '../src/patients/patient.entity.ts';
import { patients } from '../src/patients/patient.fields.ts';
import { useOpenedTestDatabase } from './support/database.ts';

/** Entity properties that are not API fields (bookkeeping columns). */
const NOT_IN_API = ['createdAt', 'updatedAt', 'version'];

describe('patient descriptor and entity metadata', () => {
  let orm: MikroORM;
  beforeAll(async () => {
    // Discovery only: no connection is made.
    orm = await MikroORM.init({ ...createOrmOptions({ clientUrl: 'postgresql://nobody@127.0.0.1:1/none', poolMax: 1 }), connect: false });
  });
  afterAll(() => orm?.close(true));

  const meta = () => orm.getMetadata().get(Patient.meta.className);

  it('names the same table and exactly the entity properties that are API fields', () => {
    expect(meta().tableName).toBe(patients.table);
    const properties = Object.keys(meta().properties).filter((p) => !NOT_IN_API.includes(p));
    expect(properties.sort()).toEqual(patients.names.map((n) => patients.fields[n]!.property).sort());
  });

  it.each(patients.names.map((n): [string, Field] => [n, patients.fields[n]]))(
    '%s: column, type, length, uniqueness and values agree',
    (_name, field) => {
      const prop = meta().properties[field.property as keyof (typeof Patient)['meta']['properties']]!;
      expect(prop.fieldNames).toEqual([field.column]);
      const columnType = String(prop.columnTypes[0]);
      if (field.kind === 'int') expect(columnType).toMatch(field.column === 'id' ? /^serial$/ : /^int$/);
      if (field.kind === 'date') expect(columnType).toBe('date');
      if (field.kind === 'text') expect(columnType).toMatch(/^varchar/);
      if (field.maxLength !== undefined) expect(prop.length).toBe(field.maxLength);
      if (field.values) expect(prop.items).toEqual([...field.values]);
      if (field.column !== 'id') expect(Boolean(prop.unique)).toBe(field.unique);
      expect(Boolean(prop.nullable)).toBe(false);
    },
  );
});

describe('patient descriptor and the migrated table', () => {
  const opened = useOpenedTestDatabase();

  it('every descriptor column exists with the matching type and length, non-null', async () => {
    const columns = await opened.tdb.query<{
      column_name: string;
      data_type: string;
      character_maximum_length: number | null;
      is_nullable: string;
    }>(`select column_name, data_type, character_maximum_length, is_nullable from information_schema.columns where table_name = $1`, [
      patients.table,
    ]);
    const byName = new Map(columns.map((c) => [c.column_name, c]));
    for (const name of patients.names) {
      const field: Field = patients.fields[name];
      const column = byName.get(field.column);
      expect(column, field.column).toBeDefined();
      expect(column!.is_nullable).toBe('NO');
      const expected = { int: 'integer', date: 'date', text: 'character varying' }[field.kind];
      expect(column!.data_type).toBe(expected);
      if (field.maxLength !== undefined) expect(column!.character_maximum_length).toBe(field.maxLength);
    }
  });

  it('the database refuses what the descriptor refuses: an age out of range, an unknown gender, a duplicate unique value', async () => {
    const sample = patients.inputExample as Record<string, unknown>;
    const insert = (overrides: Record<string, unknown>) => {
      const row = { ...sample, ...overrides };
      return opened.db.sql.query(
        `insert into ${patients.table} (${patients.insertColumns}) values (${patients.writable.map(() => '?').join(', ')})`,
        patients.writable.map((n) => row[n]),
      );
    };
    await insert({});
    const [min, max] = patients.fields.age.range;
    await expect(insert({ patientID: 'X1', age: max + 1 })).rejects.toMatchObject({ sqlState: '23514' });
    await expect(insert({ patientID: 'X2', age: min - 1 })).rejects.toMatchObject({ sqlState: '23514' });
    await expect(insert({ patientID: 'X3', gender: 'Unknown' })).rejects.toMatchObject({ sqlState: '23514' });
    await expect(insert({})).rejects.toMatchObject({ sqlState: '23505' });
    // And what it accepts, the API accepts.
    expect(patients.input.safeParse({ ...sample, patientID: 'X4', age: max }).success).toBe(true);
    await insert({ patientID: 'X4', age: max });
  });
});

import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { SeedManager } from '@mikro-orm/seeder';
import { Patient } from '../patients/patient.entity.ts';

const root = (dir: string) => fileURLToPath(new URL(`../../${dir}`, import.meta.url));

export const MIGRATIONS_DIR = root('migrations');
export const SEEDERS_DIR = root('seeders');

export interface OrmOptionsInput {
  clientUrl: string;
  poolMax: number;
  /** Receives MikroORM's own messages (migrations applied, ...); default: the console. */
  log?: (message: string) => void;
}

/**
 * The one MikroORM configuration, shared by the server, the CLI (`mikro-orm.config.ts`) and tests.
 * `debug` stays off: MikroORM's query log prints parameter values, i.e. patient data.
 */
export function createOrmOptions({ clientUrl, poolMax, log }: OrmOptionsInput): Options {
  return defineConfig({
    clientUrl,
    entities: [Patient],
    debug: false,
    colors: !log,
    ...(log ? { logger: log } : {}),
    allowGlobalContext: false,
    ensureDatabase: false,
    discovery: { warnWhenNoEntities: true },
    pool: { min: 0, max: poolMax },
    extensions: [Migrator, SeedManager],
    migrations: {
      path: MIGRATIONS_DIR,
      pathTs: MIGRATIONS_DIR,
      glob: '!(*.d).{js,ts}',
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: true,
      snapshotName: '.snapshot-patients',
      emit: 'ts',
      fileName: (timestamp: string, name?: string) =>
        `Migration${timestamp}${name ? `_${name}` : ''}`,
    },
    seeder: {
      path: SEEDERS_DIR,
      pathTs: SEEDERS_DIR,
      glob: '!(*.d).{js,ts}',
      defaultSeeder: 'DatabaseSeeder',
      emit: 'ts',
    },
  });
}

/**
 * Configuration for the MikroORM CLI (`npx mikro-orm migration:up`, `seeder:run`, ...).
 * The CLI works on a PostgreSQL server named by DATABASE_URL; the embedded database
 * (no DATABASE_URL) is migrated and seeded by `npm start` itself.
 */
import { existsSync } from 'node:fs';
import { Migrator } from '@mikro-orm/migrations';
import { SeedManager } from '@mikro-orm/seeder';
import { parseConfig } from './src/config.ts';
import { createOrmOptions } from './src/db/orm-options.ts';
import { checkedSsl } from './src/db/tls.ts';

if (existsSync('.env')) process.loadEnvFile('.env');
const config = parseConfig(process.env);
if (!config.databaseUrl) {
  throw new Error(
    'The MikroORM CLI needs DATABASE_URL (a PostgreSQL server). ' +
      'Without it, `npm start` runs the embedded database and migrates it itself.',
  );
}

// TLS from DATABASE_URL's sslmode/sslrootcert and DATABASE_CA_CERT, as for the server (MikroORM
// itself ignores the URL's query).
const ssl = await checkedSsl(config.databaseUrl, config.databaseCaCert);

export default createOrmOptions({ clientUrl: config.databaseUrl, ssl, poolMax: 2, extensions: [Migrator, SeedManager] });

import type { Config } from '../../config/config.ts';
import type { Database } from './database.ts';
import { openPGlite } from './pglite.ts';
import { openPostgres } from './postgres.ts';

export type { Database, Queryable, QueryResult } from './database.ts';
export { sqlState } from './database.ts';

/** PostgreSQL when DATABASE_URL is set, else the embedded PGlite under DATA_DIR. */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'db'>,
): Promise<Database> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl, config.db);
  return openPGlite(config.dataDir);
}

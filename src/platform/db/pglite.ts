import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.ts';
import { OID, parseInt8 } from './database.ts';
import { acquireDataDirLock, type DataDirLock } from './lock.ts';

const parsers = {
  [OID.INT8]: parseInt8,
  [OID.DATE]: (value: string) => value,
  [OID.NUMERIC]: (value: string) => value,
};

interface PGliteLike {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows?: number }>;
  exec(sql: string): Promise<unknown>;
}

function wrap(conn: PGliteLike): Queryable {
  return {
    async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      const result = await conn.query<T>(sql, params ? [...params] : undefined);
      // PGlite reports 0 affected rows for a SELECT; node-postgres counts the rows returned.
      return { rows: result.rows, rowCount: Math.max(result.affectedRows ?? 0, result.rows.length) };
    },
    async exec(sql: string) {
      await conn.exec(sql);
    },
  };
}

/**
 * The embedded database. PGlite is one connection in this process, so its own transaction
 * method serialises work; the lock file keeps a second process off the same data directory.
 */
export async function openPGlite(dataDir: string | null): Promise<Database> {
  let lock: DataDirLock | undefined;
  let pg: PGlite;
  if (dataDir === null) {
    pg = await PGlite.create({ parsers });
  } else {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    lock = acquireDataDirLock(dataDir);
    try {
      pg = await PGlite.create({ dataDir: join(dataDir, 'pgdata'), parsers });
    } catch (err) {
      lock.release();
      throw err;
    }
  }
  const base = wrap(pg);
  let closed = false;
  return {
    kind: 'pglite',
    ...base,
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    stats: () => ({ total: 1, idle: 1, waiting: 0 }),
    async close() {
      if (closed) return;
      closed = true;
      await pg.close();
      lock?.release();
    },
  };
}

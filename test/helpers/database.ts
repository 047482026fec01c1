import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../../src/platform/db/index.ts';
import { openPGlite } from '../../src/platform/db/pglite.ts';
import { openPostgres } from '../../src/platform/db/postgres.ts';

/**
 * The suite runs on PGlite by default and on a PostgreSQL server when TEST_DATABASE_URL is set
 * (CI does both). On PostgreSQL each test file gets a database of its own, dropped afterwards,
 * so files run in parallel without seeing each other's rows.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const onPostgres = TEST_DATABASE_URL !== undefined;

export const POOL_DEFAULTS = {
  poolMax: 5,
  idleTimeoutMs: 1000,
  connectTimeoutMs: 5000,
  statementTimeoutMs: 30_000,
  maxLifetimeSeconds: 0,
};

export interface ScratchDatabase {
  /** A URL to give a spawned server (PostgreSQL), or undefined on PGlite. */
  url: string | undefined;
  open(): Promise<Database>;
  drop(): Promise<void>;
}

/** A fresh, empty database: a new PostgreSQL database, or a new in-memory PGlite. */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  if (!TEST_DATABASE_URL) {
    return { url: undefined, open: () => openPGlite(null), drop: async () => {} };
  }
  const name = `dashtam_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    open: async () => openPostgres(url.toString(), POOL_DEFAULTS),
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

import { createRequire } from 'node:module';
import type { Database, Queryable } from '../db/index.ts';

/** The `db` pg-boss 10 accepts instead of its own pool: one method, answering `{rows}`. */
export interface BossDb {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

interface Logger {
  warn(obj: object, msg: string): void;
}

// pg-boss 10 is pinned exactly, so its SQL texts are a stable way to recognise two statements.
const plans = createRequire(import.meta.url)('pg-boss/src/plans.js') as {
  completeJobs(schema: string): string;
  failJobsById(schema: string): string;
};

export const BOSS_SCHEMA = 'pgboss';

/**
 * pg-boss's worker loop fires complete/fail without awaiting them; a rejection there would be an
 * unhandled rejection that stops the whole process. Those two are logged instead: the job stays
 * active until its expiry, then pg-boss retries it (at-least-once, which every handler allows).
 */
const FIRE_AND_FORGET = new Set([plans.completeJobs(BOSS_SCHEMA), plans.failJobsById(BOSS_SCHEMA)]);

/**
 * pg-boss's maintenance and schema installs send `BEGIN; …; COMMIT;` scripts without values;
 * neither PGlite's extended-protocol `query` nor our result shape takes several statements.
 */
const SCRIPT = /^\s*BEGIN\s*;/i;

/**
 * Runs pg-boss on our Database (PGlite or the pg pool), so jobs share the one connection/pool.
 * It counts queries in flight so stop() can wait for them before the database is closed; after
 * close() it refuses every query (a late complete from pg-boss is logged, not thrown).
 */
export class BossDbAdapter implements BossDb {
  private pending = 0;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
  ) {}

  /** The same adapter over an open transaction, so a job is enqueued with the caller's writes. */
  static forTransaction(tx: Queryable): BossDb {
    return { executeSql: async (text, values) => tx.query(text, values) };
  }

  get inFlight(): number {
    return this.pending;
  }

  close(): void {
    this.closed = true;
  }

  async executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> {
    this.pending++;
    try {
      if (this.closed) throw new Error('The job runner is stopped');
      return await this.run(text, values);
    } catch (err) {
      if (!FIRE_AND_FORGET.has(text)) throw err;
      this.logger.warn({ err }, 'recording a job outcome failed; the job will be retried after it expires');
      // The shape pg-boss reads back from both statements.
      return { rows: [{ count: 0 }] };
    } finally {
      this.pending--;
    }
  }

  private async run(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> {
    if ((values === undefined || values.length === 0) && SCRIPT.test(text)) {
      // Inside our own transaction the script's BEGIN/COMMIT only warn, and a failure rolls back
      // on the same connection instead of leaving it aborted (on PGlite: the only connection).
      await this.db.transaction((tx) => tx.exec(text));
      return { rows: [] };
    }
    return this.db.query(text, values);
  }
}

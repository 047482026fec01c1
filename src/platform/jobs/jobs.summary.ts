import cronParser from 'cron-parser';
import type { Queryable } from '../db/index.ts';
import type { JobsSummary } from './jobs.types.ts';
import { BOSS_SCHEMA } from './pg-boss-adapter.ts';

/** The next time a cron expression fires after `from`, or null when it cannot be computed. */
export function nextRunAt(cron: string, timezone: string, from = new Date()): string | null {
  try {
    return cronParser
      .parseExpression(cron, { tz: timezone, currentDate: from })
      .next()
      .toDate()
      .toISOString();
  } catch {
    return null;
  }
}

/**
 * GET /admin/jobs: per queue the jobs waiting (created, or retrying after a delay), running and
 * failed (kept for inspection until pg-boss archives them), and each schedule's next run. Read
 * straight from pg-boss's tables, so any process answers for the workers of all processes.
 */
export async function jobsSummary(db: Queryable, from = new Date()): Promise<JobsSummary> {
  const queues = await db.query<{ name: string; queued: number; active: number; failed: number }>(
    `SELECT q.name,
            count(j.id) FILTER (WHERE j.state IN ('created', 'retry'))::int AS queued,
            count(j.id) FILTER (WHERE j.state = 'active')::int AS active,
            count(j.id) FILTER (WHERE j.state = 'failed')::int AS failed
       FROM ${BOSS_SCHEMA}.queue q
       LEFT JOIN ${BOSS_SCHEMA}.job j ON j.name = q.name
      WHERE q.name NOT LIKE '\\_\\_pgboss\\_\\_%'
      GROUP BY q.name
      ORDER BY q.name`,
  );
  const schedules = await db.query<{ name: string; cron: string; timezone: string }>(
    `SELECT name, cron, timezone FROM ${BOSS_SCHEMA}.schedule ORDER BY name`,
  );
  return {
    queues: queues.rows,
    schedules: schedules.rows.map((s) => ({
      name: s.name,
      next_run_at: nextRunAt(s.cron, s.timezone, from),
    })),
  };
}

import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../src/platform/db/index.ts';
import { Jobs, type JobsLogger, type JobsOptions } from '../../src/platform/jobs/index.ts';
import { Mailer } from '../../src/platform/mail/index.ts';

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
}

/** A logger that keeps what it is given, so tests can assert on (and never print) job logs. */
export function memoryLogger(): JobsLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (obj: object, msg: string) =>
    entries.push({ level, msg, obj: obj as Record<string, unknown> });
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}

/** A working job runner on `db` that polls fast, stopped when the test ends. */
export function testJobs(t: TestContext, db: Database, options: Partial<JobsOptions> = {}): Jobs {
  const jobs = new Jobs(db, { logger: memoryLogger(), pollingIntervalSeconds: 0.5, ...options });
  t.after(() => jobs.stop());
  return jobs;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(50);
  }
}

/** A promise with its resolve function, for handlers the test releases. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A Mailer on `db` that only enqueues (its jobs run elsewhere), stopped when the test ends. */
export async function enqueueOnlyMailer(t: TestContext, db: Database): Promise<Mailer> {
  const jobs = new Jobs(db, { logger: memoryLogger(), work: false });
  const mailer = new Mailer(db, jobs, {
    env: 'test',
    smtpUrl: undefined,
    from: 'Dashtam <no-reply@dashtam.test>',
    logger: memoryLogger(),
    retentionDays: 30,
  });
  await jobs.start();
  t.after(() => jobs.stop());
  return mailer;
}

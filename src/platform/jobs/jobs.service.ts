import { setTimeout as sleep } from 'node:timers/promises';
import type { Tracer } from '@opentelemetry/api';
import PgBoss from 'pg-boss';
import { type Database, sqlState } from '../db/index.ts';
import { inSpan } from '../tracing.ts';
import { jobsSummary } from './jobs.summary.ts';
import type {
  JobDefinition,
  JobHandler,
  JobsLogger,
  JobsSummary,
  RetentionFn,
  SendOptions,
} from './jobs.types.ts';
import { BOSS_SCHEMA, BossDbAdapter } from './pg-boss-adapter.ts';

export const RETENTION_JOB = 'retention.purge';
/** Daily, at a quiet hour (UTC). */
export const RETENTION_CRON = '30 3 * * *';

const DAY = 86_400;
const DEFINITION_DEFAULTS = { retryLimit: 2, retryDelay: 5, retryBackoff: true, expireInSeconds: 900 };

export interface JobsOptions {
  logger: JobsLogger;
  /**
   * Run workers, schedules and pg-boss maintenance in this process. When false the process only
   * enqueues (an API instance beside `dashtam worker` processes).
   */
  work?: boolean;
  /** How often an idle worker looks for jobs (sends from this process wake it at once). */
  pollingIntervalSeconds?: number;
  /** How long stop() lets running jobs finish before they are failed (and retried later). */
  stopTimeoutMs?: number;
  /** Failed jobs stay in the job table (counted by summary()) this long, then move to the archive. */
  failedRetentionDays?: number;
  /** Archived jobs (completed after 12 h, failed after the above) are deleted after this. */
  archiveRetentionDays?: number;
  /** Told of every finished attempt (metrics). */
  onOutcome?: (queue: string, outcome: 'completed' | 'failed') => void;
  /** When tracing is on, every attempt is a span. */
  tracer?: Tracer;
}

interface Definition {
  handler: JobHandler<never>;
  options: Required<JobDefinition>;
}

/**
 * Background jobs on pg-boss 10, in the same database as everything else (PGlite through an
 * adapter, or the PostgreSQL pool). Queues are declared with define() and schedule() before
 * start(); send() enqueues, optionally inside a caller's transaction.
 */
export class Jobs {
  private readonly adapter: BossDbAdapter;
  private readonly boss: PgBoss;
  private readonly logger: JobsLogger;
  private readonly work: boolean;
  private readonly pollingIntervalSeconds: number;
  private readonly stopTimeoutMs: number;
  private readonly definitions = new Map<string, Definition>();
  private readonly schedules = new Map<string, string>();
  private readonly retention = new Map<string, RetentionFn>();
  private readonly workers = new Map<string, string[]>();
  private readonly running = new Set<AbortController>();
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly db: Database,
    private readonly options: JobsOptions,
  ) {
    this.logger = options.logger;
    this.work = options.work ?? true;
    this.pollingIntervalSeconds = options.pollingIntervalSeconds ?? 2;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.adapter = new BossDbAdapter(db, this.logger);
    this.boss = new PgBoss({
      db: this.adapter,
      schema: BOSS_SCHEMA,
      migrate: true,
      supervise: this.work,
      schedule: this.work,
      archiveFailedAfterSeconds: (options.failedRetentionDays ?? 7) * DAY,
      deleteAfterDays: options.archiveRetentionDays ?? 30,
    });
    // pg-boss reports background failures (polling, maintenance) as events; unheard, they throw.
    this.boss.on('error', (err) => {
      // On singleton/stately queues a fetch that would start a second job for an active key hits
      // the queue's unique index: expected, the job simply waits for the next poll.
      if (sqlState(err) === '23505') return;
      this.logger.error({ err }, 'job runner error');
    });
    this.define(RETENTION_JOB, () => this.runRetention(), {
      retryLimit: 3,
      retryDelay: 300,
      expireInSeconds: 3600,
      policy: 'stately',
    });
    this.schedule(RETENTION_JOB, RETENTION_CRON);
  }

  /** Declares a queue and its handler. Handlers must tolerate running twice (at-least-once). */
  define<T>(name: string, handler: JobHandler<T>, options: JobDefinition = {}): void {
    if (this.starting) throw new Error(`define("${name}") after the job runner started`);
    this.definitions.set(name, {
      handler: handler as JobHandler<never>,
      options: { ...DEFINITION_DEFAULTS, policy: 'standard', concurrency: 1, ...options },
    });
  }

  /** Runs a defined job on a cron schedule (UTC); one process sends it, whichever checks first. */
  schedule(name: string, cron: string): void {
    if (this.starting) throw new Error(`schedule("${name}") after the job runner started`);
    if (!this.definitions.has(name)) throw new Error(`schedule("${name}") needs define("${name}") first`);
    this.schedules.set(name, cron);
  }

  /** Adds a purge to the daily `retention.purge` job; `fn` returns the number of rows removed. */
  registerRetention(name: string, fn: RetentionFn): void {
    this.retention.set(name, fn);
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  /** Enqueues a job; null when the queue policy refused it (a duplicate singletonKey). */
  async send<T extends object>(name: string, data: T, options: SendOptions = {}): Promise<string | null> {
    if (!this.definitions.has(name)) throw new Error(`send("${name}"): no such job is defined`);
    if (!this.starting || this.stopping) throw new Error(`send("${name}"): the job runner is not running`);
    await this.starting;
    const id = await this.boss.send(name, data, {
      singletonKey: options.singletonKey,
      startAfter: options.startAfter,
      db: options.tx ? BossDbAdapter.forTransaction(options.tx) : undefined,
    });
    if (id && !options.tx && options.startAfter === undefined) this.wake(name);
    return id;
  }

  /**
   * Has this process's idle workers of a queue look for jobs now rather than at their next poll
   * (send() does it itself; call it after committing a transaction that enqueued with `tx`).
   */
  wake(name: string): void {
    for (const workerId of this.workers.get(name) ?? []) this.boss.notifyWorker(workerId);
  }

  summary(): Promise<JobsSummary> {
    return jobsSummary(this.db);
  }

  /** Runs every registered purge, all of them even if one fails; then fails if any did. */
  async runRetention(): Promise<Record<string, number>> {
    const removed: Record<string, number> = {};
    const failed: string[] = [];
    for (const [name, fn] of this.retention) {
      try {
        removed[name] = await fn();
      } catch (err) {
        failed.push(name);
        this.logger.error({ err, retention: name }, 'retention purge failed');
      }
    }
    this.logger.info({ removed }, 'retention purge finished');
    if (failed.length > 0) throw new Error(`retention purge failed for: ${failed.join(', ')}`);
    return removed;
  }

  /**
   * Stops taking jobs, lets running ones finish for up to stopTimeoutMs (then fails them, so
   * they are retried), and waits for pg-boss's last queries so the database can close after.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStart(): Promise<void> {
    await this.boss.start();
    for (const [name, definition] of this.definitions) await this.ensureQueue(name, definition.options);
    if (!this.work) return;
    await this.syncSchedules();
    for (const [name, definition] of this.definitions) {
      const ids: string[] = [];
      for (let i = 0; i < definition.options.concurrency; i++) {
        ids.push(
          await this.boss.work<object>(
            name,
            { pollingIntervalSeconds: this.pollingIntervalSeconds, batchSize: 1, includeMetadata: true },
            async ([job]) => (job ? this.runOne(name, definition, job) : undefined),
          ),
        );
      }
      this.workers.set(name, ids);
    }
  }

  private async ensureQueue(name: string, options: Definition['options']): Promise<void> {
    const queue = {
      name,
      policy: options.policy,
      retryLimit: options.retryLimit,
      retryDelay: options.retryDelay,
      retryBackoff: options.retryBackoff,
      expireInSeconds: options.expireInSeconds,
    };
    if (!(await this.boss.getQueue(name))) {
      try {
        await this.boss.createQueue(name, queue);
        return;
      } catch (err) {
        // Another process created it between our check and our insert: update it instead.
        if (!(await this.boss.getQueue(name))) throw err;
      }
    }
    // The code's current definition wins over what an older release stored.
    await this.boss.updateQueue(name, queue);
  }

  private async syncSchedules(): Promise<void> {
    for (const schedule of await this.boss.getSchedules()) {
      if (!this.schedules.has(schedule.name)) await this.boss.unschedule(schedule.name);
    }
    for (const [name, cron] of this.schedules) await this.boss.schedule(name, cron, {}, { tz: 'UTC' });
  }

  private async runOne(name: string, definition: Definition, job: PgBoss.JobWithMetadata<object>) {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error('job timed out')),
      definition.options.expireInSeconds * 1000,
    );
    timer.unref();
    this.running.add(controller);
    const attempt = job.retryCount + 1;
    const started = performance.now();
    try {
      const run = () =>
        definition.handler(job.data as never, { id: job.id, name, attempt, signal: controller.signal });
      const result = this.options.tracer
        ? await inSpan(
            this.options.tracer,
            `job ${name}`,
            { 'job.id': job.id, 'job.attempt': String(attempt) },
            run,
          )
        : await run();
      this.options.onOutcome?.(name, 'completed');
      this.logger.info(
        { job: name, job_id: job.id, attempt, ms: Math.round(performance.now() - started) },
        'job completed',
      );
      return result;
    } catch (err) {
      this.options.onOutcome?.(name, 'failed');
      const willRetry = job.retryCount < job.retryLimit;
      this.logger.warn({ job: name, job_id: job.id, attempt, will_retry: willRetry, err }, 'job failed');
      throw err;
    } finally {
      clearTimeout(timer);
      this.running.delete(controller);
    }
  }

  private async doStop(): Promise<void> {
    if (!this.starting) return;
    try {
      await this.starting;
    } catch {
      // A failed start still leaves pg-boss half running; stopping below is what cleans it up.
    }
    const deadline = Date.now() + this.stopTimeoutMs;
    await this.boss.stop({ graceful: true, wait: true, close: false, timeout: this.stopTimeoutMs });
    // A worker that was fetching when stop began may still start a job; wait for it, bounded.
    while ((this.running.size > 0 || this.adapter.inFlight > 0) && Date.now() < deadline) await sleep(20);
    if (this.running.size > 0) {
      this.logger.warn({ running: this.running.size }, 'jobs still running at shutdown were abandoned');
      for (const controller of this.running) controller.abort(new Error('job runner stopped'));
    }
    this.adapter.close();
  }
}

import type { Queryable } from '../db/index.ts';

/**
 * Queue policies (pg-boss 10): `standard` allows any number of jobs per key; `singleton` lets
 * only one job per singletonKey be active at a time (others wait queued); `stately` additionally
 * allows only one queued job per key, so a second send for the same key is refused (null).
 * A singletonKey on a standard queue prevents nothing.
 */
export type JobPolicy = 'standard' | 'singleton' | 'stately';

export interface JobDefinition {
  /** Retries after the first failure (default 2). */
  retryLimit?: number;
  /** Seconds before a retry; with retryBackoff it doubles each attempt, with jitter (default 5). */
  retryDelay?: number;
  retryBackoff?: boolean;
  /** The per-job timeout: an attempt running longer fails (and is retried). Default 15 min. */
  expireInSeconds?: number;
  policy?: JobPolicy;
  /** Jobs of this queue run at once in this process (default 1). */
  concurrency?: number;
}

export interface SendOptions {
  singletonKey?: string;
  /** Not before this time (a Date) or this many seconds from now. */
  startAfter?: Date | number;
  /** Enqueue inside this transaction, so the job exists only if the caller's writes commit. */
  tx?: Queryable;
}

export interface JobContext {
  id: string;
  name: string;
  /** 1 for the first attempt, 2 for the first retry… */
  attempt: number;
  /** Aborted when the attempt times out or the runner is stopped past its grace period. */
  signal: AbortSignal;
}

export type JobHandler<T> = (data: T, job: JobContext) => Promise<unknown>;

/** A purge function for `retention.purge`; returns how many rows it removed. */
export type RetentionFn = () => Promise<number>;

export interface JobsSummary {
  queues: { name: string; queued: number; active: number; failed: number }[];
  schedules: { name: string; next_run_at: string | null }[];
}

export interface JobsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

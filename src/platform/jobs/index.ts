export { Jobs, type JobsOptions, RETENTION_CRON, RETENTION_JOB } from './jobs.service.ts';
export { nextRunAt } from './jobs.summary.ts';
export type {
  JobContext,
  JobDefinition,
  JobHandler,
  JobPolicy,
  JobsLogger,
  JobsSummary,
  RetentionFn,
  SendOptions,
} from './jobs.types.ts';

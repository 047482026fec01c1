import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { type Config, loadConfig } from './config/config.ts';
import { resolveSecretSources } from './config/secret-sources/index.ts';
import { stopOnSignals } from './platform/shutdown.ts';

export const WORKER_NEEDS_POSTGRES =
  'dashtam worker needs a PostgreSQL server (DATABASE_URL). The embedded database can be opened ' +
  'by one process only, and jobs already run inside `dashtam serve` (JOBS_ENABLED, default true).';

export interface RunningWorker {
  app: FastifyInstance;
  stop(): Promise<void>;
}

/**
 * Runs background jobs only: the same composition root as the server, made ready (so jobs
 * start) but never listening. Several workers and API instances share one PostgreSQL; API
 * instances then set JOBS_ENABLED=false. SIGTERM/SIGINT let running jobs finish, bounded.
 */
export async function startWorker(config: Config): Promise<RunningWorker> {
  if (!config.databaseUrl) throw new Error(WORKER_NEEDS_POSTGRES);
  const app = await buildApp({ ...config, jobsEnabled: true });
  await app.ready();
  const stop = stopOnSignals(app, config.shutdownTimeoutMs, 'worker');
  app.log.info({ env: config.env, pid: process.pid }, 'Dashtam worker running');
  return { app, stop };
}

/** Entry point: reports configuration problems plainly instead of as a stack trace. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    await startWorker(loadConfig(await resolveSecretSources(env)));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

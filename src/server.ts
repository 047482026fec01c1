import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { type Config, loadConfig } from './config/config.ts';
import { resolveSecretSources } from './config/secret-sources/index.ts';
import { stopOnSignals } from './platform/shutdown.ts';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts the HTTP server and wires graceful shutdown: on SIGTERM/SIGINT new requests get 503,
 * in-flight ones finish, then the database closes. A stuck drain is cut off after
 * SHUTDOWN_TIMEOUT_MS.
 */
export async function startServer(config: Config): Promise<RunningServer> {
  const app = await buildApp(config);
  const url = await app.listen({ port: config.port, host: config.host });
  const stop = stopOnSignals(app, config.shutdownTimeoutMs, 'server');
  app.log.info(
    { url, env: config.env, database: config.databaseUrl ? 'postgres' : 'pglite' },
    'Dashtam listening',
  );
  return { app, url, stop };
}

/** Entry point: reports configuration problems plainly instead of as a stack trace. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    // Secret managers are read first so loadConfig stays synchronous and validates their values.
    await startServer(loadConfig(await resolveSecretSources(env)));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

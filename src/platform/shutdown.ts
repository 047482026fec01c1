import type { FastifyInstance } from 'fastify';

/**
 * Graceful shutdown for a process built around one app: on SIGTERM/SIGINT the app closes (new
 * requests get 503, in-flight ones and running jobs finish, then the database closes) and the
 * process exits 0; a stuck drain is cut off after `timeoutMs` with exit code 1.
 * Returns the idempotent stop function.
 */
export function stopOnSignals(app: FastifyInstance, timeoutMs: number, what: string): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= app.close();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    app.log.info({ signal }, `${what} shutting down`);
    const timer = setTimeout(() => {
      app.log.error(`${what} shutdown timed out; exiting`);
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, `${what} shutdown failed`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return stop;
}

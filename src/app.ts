import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config/config.ts';
import { AuditService } from './modules/audit/index.ts';
import { registerIdentity } from './modules/identity/index.ts';
import { KeyStore } from './platform/crypto/index.ts';
import { type Database, openDatabase } from './platform/db/index.ts';
import { Migrator } from './platform/db/migrator.ts';
import { registerAuthContext } from './platform/http/auth-context.ts';
import { errorHandler } from './platform/http/error-handler.ts';
import { registerIdempotency } from './platform/http/idempotency/idempotency.hooks.ts';
import { registerNotFound } from './platform/http/not-found.ts';
import { registerOpenApi } from './platform/http/openapi.ts';
import { registerOperationalRoutes } from './platform/http/operational.routes.ts';
import { registerRateLimits } from './platform/http/rate-limit.ts';
import { registerRequestContext, requestIdFor } from './platform/http/request-context.ts';
import { ProblemSchema } from './platform/http/schemas.ts';
import { validatorCompiler } from './platform/http/validation.ts';
import { Jobs } from './platform/jobs/index.ts';
import { loggerOptions } from './platform/logging.ts';
import { Mailer, registerMailboxRoutes } from './platform/mail/index.ts';
import { createMetrics, registerMetrics } from './platform/metrics/metrics.ts';
import { registerRequestTracing, startTracing, traceDatabase } from './platform/tracing.ts';

export interface AppOptions {
  /** An already open database (tests); otherwise one is opened from the config and closed with the app. */
  db?: Database;
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream;
}

const EXPOSED_HEADERS = [
  'x-request-id',
  'x-process-time',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'ratelimit-policy',
  'retry-after',
  'idempotent-replayed',
  'location',
];

/**
 * The one composition root: builds the Fastify app and every service from the config, without
 * listening. The server, the worker, the CLI and the tests all start from here.
 */
export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const tracing = startTracing(config.otelEndpoint);
  const rawDb = options.db ?? (await openDatabase(config));
  const db = tracing ? traceDatabase(rawDb, tracing.tracer) : rawDb;
  const ownsDb = options.db === undefined;
  const migrator = new Migrator(db);
  const keyStore = new KeyStore(db, config.secrets.encryptionKeys);
  try {
    if (config.migrateOnStart) await migrator.up();
    // Refuses to start when a kid now names different key material (once the key store exists).
    if (config.migrateOnStart || (await migrator.isCurrent())) await keyStore.init();
  } catch (err) {
    if (ownsDb) await db.close();
    throw err;
  }

  const logger = loggerOptions(config.logLevel);
  const app = Fastify({
    logger: options.logStream ? { ...logger, stream: options.logStream } : logger,
    genReqId: requestIdFor,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    bodyLimit: config.http.bodyLimitBytes,
    requestTimeout: config.http.requestTimeoutMs,
    // How often Node looks for requests past requestTimeout (its default, 30 s, is too coarse).
    http: { connectionsCheckingInterval: Math.min(1000, config.http.requestTimeoutMs) },
    trustProxy:
      typeof config.trustProxy === 'number'
        ? (_address: string, hop: number) => hop < (config.trustProxy as number)
        : config.trustProxy,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.removeContentTypeParser('text/plain');
  app.addSchema(ProblemSchema);
  registerAuthContext(app);
  registerNotFound(app);
  registerRequestContext(app, config);
  if (tracing) {
    registerRequestTracing(app, tracing);
    app.addHook('onClose', () => tracing.shutdown());
  }
  if (ownsDb) app.addHook('onClose', async () => db.close());

  const allowAny = config.corsOrigins.includes('*');
  await app.register(cors, {
    origin: (origin, callback) =>
      callback(null, allowAny || (origin !== undefined && config.corsOrigins.includes(origin))),
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id', 'last-event-id'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
  await registerOpenApi(app);
  const metrics = createMetrics(db);
  registerMetrics(app, config, metrics);
  registerRateLimits(app, config, {
    onReject: (policy) => metrics.rateLimitRejections.inc({ policy }),
    onFallback: () => metrics.rateLimitStoreFallbacks.inc(),
  });
  const idempotency = registerIdempotency(app, {
    db,
    cipher: keyStore,
    abandonedAfterSeconds: config.http.idempotencyAbandonedSeconds,
  });
  registerOperationalRoutes(app, { db, migrator });

  // Enqueueing works in every process; JOBS_ENABLED=false leaves the running to `dashtam worker`.
  const jobs = new Jobs(db, {
    logger: app.log,
    work: config.jobsEnabled,
    stopTimeoutMs: Math.floor(config.shutdownTimeoutMs / 2),
    onOutcome: (queue, outcome) => metrics.jobOutcomes.inc({ queue, outcome }),
    tracer: tracing?.tracer,
  });
  jobs.registerRetention('idempotency_keys', () => idempotency.purgeExpired());
  const mailer = new Mailer(db, jobs, {
    env: config.env,
    smtpUrl: config.smtpUrl,
    from: config.mailFrom,
    logger: app.log,
    retentionDays: config.outboxRetentionDays,
  });
  if (config.env !== 'production') registerMailboxRoutes(app, { mailer });
  const audit = new AuditService(db, keyStore);
  registerIdentity(app, config, { db, audit, mailer, keys: keyStore });
  app.addHook('onReady', () => jobs.start());
  // onClose hooks run last-registered first: jobs drain before the database closes.
  app.addHook('onClose', async () => {
    await jobs.stop();
    mailer.close();
  });
  return app;
}

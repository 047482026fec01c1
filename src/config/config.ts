import { resolve } from 'node:path';
import { parseCorsOrigins, parseRateLimits, parseSecrets, parseTrustProxy } from './config-parsers.ts';
import { EnvReader } from './env-reader.ts';
import type { RateLimitPolicy, RateLimitRule } from './rate-limit-policies.ts';
import { type KeyMaterial, readSecretVar } from './secrets.ts';

export type Environment = 'development' | 'test' | 'production';

export {
  DEFAULT_RATE_LIMITS,
  RATE_LIMIT_POLICIES,
  type RateLimitPolicy,
  type RateLimitRule,
} from './rate-limit-policies.ts';

export interface Config {
  env: Environment;
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** OTLP/HTTP collector base URL; tracing is off when unset. */
  otelEndpoint: string | undefined;
  /** Namespace for every Redis key, so deployments (or test runs) can share one Redis. */
  redisKeyPrefix: string;
  publicBaseUrl: string;
  corsOrigins: string[];
  trustProxy: boolean | number | string[];
  adminEmails: string[];
  adminAllowedIps: string[];
  smtpUrl: string | undefined;
  mailFrom: string;
  metricsToken: string | undefined;
  rateLimits: Record<RateLimitPolicy, RateLimitRule>;
  loginMaxFailures: number;
  sessionCap: number;
  refreshReuseLeewaySeconds: number;
  changesRetentionDays: number;
  /** Days sent (and dead) outgoing mail stays in mail_outbox. */
  outboxRetentionDays: number;
  /** Run background jobs in this process (false: only enqueue, `dashtam worker` runs them). */
  jobsEnabled: boolean;
  syncIntervalMinutes: number;
  syncMinIntervalSeconds: number;
  accessTokenTtlSeconds: number;
  tokenRotationGraceSeconds: number;
  schwab: { clientId?: string; clientSecret?: string; redirectUri?: string; baseUrl: string };
  alpaca: { liveBaseUrl: string; paperBaseUrl: string };
  secrets: { jwtSigningKey: KeyMaterial; jwtVerifyKeys: KeyMaterial[]; encryptionKeys: KeyMaterial[] };
  db: {
    poolMax: number;
    idleTimeoutMs: number;
    connectTimeoutMs: number;
    statementTimeoutMs: number;
    maxLifetimeSeconds: number;
  };
  http: {
    bodyLimitBytes: number;
    requestTimeoutMs: number;
    slowRequestMs: number;
    idempotencyAbandonedSeconds: number;
  };
  logLevel: string;
  migrateOnStart: boolean;
  shutdownTimeoutMs: number;
}

/** Every problem found while reading the environment, reported together at start-up. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Reads and validates the whole configuration. Every problem is collected and thrown together
 * as one ConfigError, so an operator fixes them in one pass.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const reader = new EnvReader(env);
  const envName = reader.string('DASHTAM_ENV', 'development');
  if (!['development', 'test', 'production'].includes(envName)) {
    reader.problems.push(`DASHTAM_ENV must be development, test or production (got "${envName}")`);
  }
  const environment = (
    ['development', 'test', 'production'].includes(envName) ? envName : 'development'
  ) as Environment;
  const production = environment === 'production';

  const port = reader.int('PORT', 3000, 0, 65535);
  const host = reader.string('HOST', '127.0.0.1');
  const dataDir = resolve(reader.string('DATA_DIR', './data'));
  const databaseUrl = reader.url('DATABASE_URL', undefined, ['postgres:', 'postgresql:']);
  const redisUrl = reader.url('REDIS_URL', undefined, ['redis:', 'rediss:']);
  const redisKeyPrefix = reader.string('REDIS_KEY_PREFIX', 'dashtam:');
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(redisKeyPrefix))
    reader.problems.push('REDIS_KEY_PREFIX must be 1-64 characters of A-Z a-z 0-9 : _ . -');
  const publicBaseUrl = reader.url('PUBLIC_BASE_URL', `http://${host}:${port}`, ['http:', 'https:']);
  if (production) {
    if (reader.string('PUBLIC_BASE_URL') === undefined) {
      reader.problems.push('PUBLIC_BASE_URL is required in production (links in emails and OAuth redirects)');
    } else if (!publicBaseUrl.startsWith('https://')) {
      reader.problems.push('PUBLIC_BASE_URL must be https in production');
    }
  }
  const logLevel = reader.string(
    'LOG_LEVEL',
    production ? 'info' : environment === 'test' ? 'silent' : 'info',
  );
  if (!LOG_LEVELS.includes(logLevel))
    reader.problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const config: Config = {
    env: environment,
    port,
    host,
    dataDir,
    databaseUrl,
    redisUrl,
    otelEndpoint: reader.url('OTEL_EXPORTER_OTLP_ENDPOINT', undefined, ['http:', 'https:']),
    redisKeyPrefix,
    publicBaseUrl: publicBaseUrl.replace(/\/+$/, ''),
    corsOrigins: parseCorsOrigins(reader, environment),
    trustProxy: parseTrustProxy(reader),
    adminEmails: reader.list('ADMIN_EMAILS').map((e) => e.toLowerCase()),
    adminAllowedIps: reader.list('ADMIN_ALLOWED_IPS'),
    smtpUrl: reader.url('SMTP_URL', undefined, ['smtp:', 'smtps:']),
    mailFrom: reader.string('MAIL_FROM', 'Dashtam <no-reply@localhost>'),
    metricsToken: readSecretVar(env, 'METRICS_TOKEN', reader.problems),
    rateLimits: parseRateLimits(reader),
    loginMaxFailures: reader.int('LOGIN_MAX_FAILURES', 5, 1, 1000),
    sessionCap: reader.int('SESSION_CAP', 10, 1, 1000),
    refreshReuseLeewaySeconds: reader.int('REFRESH_REUSE_LEEWAY_SECONDS', 10, 0, 300),
    changesRetentionDays: reader.int('CHANGES_RETENTION_DAYS', 90, 1, 3650),
    outboxRetentionDays: reader.int('OUTBOX_RETENTION_DAYS', 30, 1, 3650),
    jobsEnabled: reader.bool('JOBS_ENABLED', true),
    syncIntervalMinutes: reader.int('SYNC_INTERVAL_MINUTES', 360, 1, 10080),
    syncMinIntervalSeconds: reader.int('SYNC_MIN_INTERVAL_SECONDS', 300, 0, 86400),
    accessTokenTtlSeconds: reader.int('ACCESS_TOKEN_TTL_SECONDS', 900, 30, 86400),
    tokenRotationGraceSeconds: reader.int('TOKEN_ROTATION_GRACE_SECONDS', 300, 0, 86400),
    schwab: {
      clientId: reader.string('SCHWAB_CLIENT_ID'),
      clientSecret: readSecretVar(env, 'SCHWAB_CLIENT_SECRET', reader.problems),
      redirectUri: reader.url('SCHWAB_REDIRECT_URI', undefined, ['http:', 'https:']),
      baseUrl: reader.url('SCHWAB_BASE_URL', 'https://api.schwabapi.com', ['http:', 'https:']),
    },
    alpaca: {
      liveBaseUrl: reader.url('ALPACA_LIVE_BASE_URL', 'https://api.alpaca.markets', ['http:', 'https:']),
      paperBaseUrl: reader.url('ALPACA_PAPER_BASE_URL', 'https://paper-api.alpaca.markets', [
        'http:',
        'https:',
      ]),
    },
    secrets: parseSecrets(reader, environment, dataDir),
    db: {
      poolMax: reader.int('DB_POOL_MAX', 20, 1, 1000),
      idleTimeoutMs: reader.int('DB_IDLE_TIMEOUT_MS', 30_000, 0),
      connectTimeoutMs: reader.int('DB_CONNECT_TIMEOUT_MS', 10_000, 1),
      statementTimeoutMs: reader.int('DB_STATEMENT_TIMEOUT_MS', 30_000, 0),
      maxLifetimeSeconds: reader.int('DB_MAX_LIFETIME_SECONDS', 3600, 0),
    },
    http: {
      bodyLimitBytes: reader.int('BODY_LIMIT_BYTES', 1024 * 1024, 1024),
      requestTimeoutMs: reader.int('REQUEST_TIMEOUT_MS', 30_000, 1000),
      slowRequestMs: reader.int('SLOW_REQUEST_MS', 500, 1),
      idempotencyAbandonedSeconds: reader.int('IDEMPOTENCY_ABANDONED_SECONDS', 120, 10, 86400),
    },
    logLevel,
    migrateOnStart: reader.bool('MIGRATE_ON_START', true),
    shutdownTimeoutMs: reader.int('SHUTDOWN_TIMEOUT_MS', 10_000, 100),
  };
  if (production && config.metricsToken !== undefined && config.metricsToken.length < 16) {
    reader.problems.push('METRICS_TOKEN must be at least 16 characters in production');
  }
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return config;
}

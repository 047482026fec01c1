import { resolve } from 'node:path';
import {
  type KeyMaterial,
  keyWeakness,
  loadOrCreateDevSecrets,
  parseKey,
  parseKeyList,
  readSecretVar,
} from './secrets.ts';

export type Environment = 'development' | 'test' | 'production';

export const RATE_LIMIT_POLICIES = [
  'register',
  'login',
  'password_reset',
  'refresh',
  'connect',
  'sync',
  'read',
  'write',
] as const;
export type RateLimitPolicy = (typeof RATE_LIMIT_POLICIES)[number];
export interface RateLimitRule {
  points: number;
  seconds: number;
}

export const DEFAULT_RATE_LIMITS: Record<RateLimitPolicy, RateLimitRule> = {
  register: { points: 3, seconds: 60 },
  login: { points: 5, seconds: 60 },
  password_reset: { points: 3, seconds: 3600 },
  refresh: { points: 10, seconds: 60 },
  connect: { points: 5, seconds: 60 },
  sync: { points: 10, seconds: 60 },
  read: { points: 300, seconds: 60 },
  write: { points: 60, seconds: 60 },
};

export interface Config {
  env: Environment;
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
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
  http: { bodyLimitBytes: number; requestTimeoutMs: number; slowRequestMs: number };
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

class EnvReader {
  readonly problems: string[] = [];
  constructor(readonly env: NodeJS.ProcessEnv) {}

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? fallback : value;
  }

  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    this.problems.push(`${name} must be true or false (got "${this.env[name]}")`);
    return fallback;
  }

  list(name: string): string[] {
    return (this.string(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  url(name: string, fallback: string, protocols: string[]): string;
  url(name: string, fallback: undefined, protocols: string[]): string | undefined;
  url(name: string, fallback: string | undefined, protocols: string[]): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    try {
      const url = new URL(raw);
      if (!protocols.includes(url.protocol)) {
        this.problems.push(`${name} must use ${protocols.join(' or ')} (got "${url.protocol}")`);
      }
    } catch {
      this.problems.push(`${name} is not a valid URL`);
    }
    return raw;
  }
}

function parseRateLimits(reader: EnvReader): Record<RateLimitPolicy, RateLimitRule> {
  const limits = structuredClone(DEFAULT_RATE_LIMITS);
  for (const entry of reader.list('RATE_LIMITS')) {
    const match = /^([a-z_]+)=(\d+)\/(\d+)$/.exec(entry);
    const policy = match?.[1] as RateLimitPolicy | undefined;
    if (!match || !policy || !RATE_LIMIT_POLICIES.includes(policy)) {
      reader.problems.push(
        `RATE_LIMITS entry "${entry}" must be policy=points/seconds with policy one of ${RATE_LIMIT_POLICIES.join(', ')}`,
      );
      continue;
    }
    const points = Number(match[2]);
    const seconds = Number(match[3]);
    if (points < 1 || seconds < 1) {
      reader.problems.push(`RATE_LIMITS entry "${entry}" needs points and seconds of at least 1`);
      continue;
    }
    limits[policy] = { points, seconds };
  }
  return limits;
}

function parseTrustProxy(reader: EnvReader): boolean | number | string[] {
  const raw = reader.string('TRUST_PROXY');
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = reader.list('TRUST_PROXY');
  const ipLike = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;
  const bad = entries.filter((e) => !ipLike.test(e) && !['loopback', 'linklocal', 'uniquelocal'].includes(e));
  if (bad.length > 0) {
    reader.problems.push(
      `TRUST_PROXY must be true, false, a hop count, or a list of proxy addresses/CIDRs (bad: ${bad.join(', ')})`,
    );
    return false;
  }
  return entries;
}

function parseCorsOrigins(reader: EnvReader, env: Environment): string[] {
  const origins = reader.list('CORS_ORIGINS');
  for (const origin of origins) {
    if (origin === '*') {
      if (env === 'production')
        reader.problems.push('CORS_ORIGINS=* is refused in production: list the origins');
      continue;
    }
    try {
      const url = new URL(origin);
      if (url.origin !== origin) reader.problems.push(`CORS_ORIGINS entry "${origin}" must be a bare origin`);
    } catch {
      reader.problems.push(`CORS_ORIGINS entry "${origin}" is not a valid origin`);
    }
  }
  return origins;
}

function parseSecrets(reader: EnvReader, env: Environment, dataDir: string): Config['secrets'] {
  const problems = reader.problems;
  let signingRaw = readSecretVar(reader.env, 'JWT_SIGNING_KEY', problems);
  const verifyRaw = readSecretVar(reader.env, 'JWT_VERIFY_KEYS', problems);
  let encryptionRaw = readSecretVar(reader.env, 'ENCRYPTION_KEYS', problems);
  const production = env === 'production';

  if (!production && (signingRaw === undefined || encryptionRaw === undefined)) {
    const dev = loadOrCreateDevSecrets(dataDir);
    signingRaw ??= dev.jwt_signing_key;
    encryptionRaw ??= dev.encryption_keys;
  }
  if (signingRaw === undefined) problems.push('JWT_SIGNING_KEY is required in production');
  if (encryptionRaw === undefined) problems.push('ENCRYPTION_KEYS is required in production');

  const placeholder: KeyMaterial = { kid: 'missing', key: Buffer.alloc(0) };
  let jwtSigningKey = placeholder;
  if (signingRaw !== undefined) {
    const parsed = parseKey(signingRaw);
    if (typeof parsed === 'string') problems.push(`JWT_SIGNING_KEY: ${parsed}`);
    else {
      const weak = keyWeakness(signingRaw, parsed);
      if (weak) problems.push(`JWT_SIGNING_KEY ${weak}`);
      jwtSigningKey = parsed;
    }
  }

  let jwtVerifyKeys: KeyMaterial[] = [];
  if (verifyRaw !== undefined) {
    const parsed = parseKeyList(verifyRaw);
    if (typeof parsed === 'string') problems.push(`JWT_VERIFY_KEYS: ${parsed}`);
    else {
      for (const [i, key] of parsed.entries()) {
        const weak = keyWeakness(verifyRaw.split(',')[i] ?? '', key);
        if (weak) problems.push(`JWT_VERIFY_KEYS key "${key.kid}" ${weak}`);
      }
      jwtVerifyKeys = parsed;
    }
  }

  let encryptionKeys: KeyMaterial[] = [];
  if (encryptionRaw !== undefined) {
    const parsed = parseKeyList(encryptionRaw);
    if (typeof parsed === 'string') problems.push(`ENCRYPTION_KEYS: ${parsed}`);
    else if (parsed.length === 0) problems.push('ENCRYPTION_KEYS must list at least one key');
    else {
      for (const [i, key] of parsed.entries()) {
        const weak = keyWeakness(encryptionRaw.split(',')[i] ?? '', key, 32);
        if (weak) problems.push(`ENCRYPTION_KEYS key "${key.kid}" ${weak}`);
      }
      encryptionKeys = parsed;
    }
  }
  if (jwtVerifyKeys.some((k) => k.kid === jwtSigningKey.kid)) {
    problems.push(`JWT_VERIFY_KEYS repeats the signing key id "${jwtSigningKey.kid}"`);
  }
  return { jwtSigningKey, jwtVerifyKeys, encryptionKeys };
}

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

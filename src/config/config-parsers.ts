import type { Config, Environment } from './config.ts';
import type { EnvReader } from './env-reader.ts';
import {
  DEFAULT_RATE_LIMITS,
  RATE_LIMIT_POLICIES,
  type RateLimitPolicy,
  type RateLimitRule,
} from './rate-limit-policies.ts';
import {
  type KeyMaterial,
  keyWeakness,
  loadOrCreateDevSecrets,
  parseKey,
  parseKeyList,
  readSecretVar,
} from './secrets.ts';

// The composite settings of loadConfig: rate limits, proxies, origins and the secret keys.

export function parseRateLimits(reader: EnvReader): Record<RateLimitPolicy, RateLimitRule> {
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

export function parseTrustProxy(reader: EnvReader): boolean | number | string[] {
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

export function parseCorsOrigins(reader: EnvReader, env: Environment): string[] {
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

export function parseSecrets(reader: EnvReader, env: Environment, dataDir: string): Config['secrets'] {
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

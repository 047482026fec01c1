import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A named key: `kid` travels with every token or ciphertext so keys can rotate. */
export interface KeyMaterial {
  kid: string;
  key: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const KID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Placeholder values that appear in our docs and `.env.example`. Production refuses them even
 * though they are long enough: a published key is no key.
 */
export const PUBLISHED_PLACEHOLDER_KEYS = new Set([
  'change-me',
  'changeme',
  'k1:Q0hBTkdFLU1FLUNIQU5HRS1NRS1DSEFOR0UtTUUtMzI=',
  'Q0hBTkdFLU1FLUNIQU5HRS1NRS1DSEFOR0UtTUUtMzI=',
]);

/** Parses `kid:base64` (or bare base64, whose kid is derived from the key itself). */
export function parseKey(text: string): KeyMaterial | string {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const kid = colon >= 0 ? trimmed.slice(0, colon) : '';
  const encoded = colon >= 0 ? trimmed.slice(colon + 1) : trimmed;
  if (colon >= 0 && !KID.test(kid)) return 'key id must be 1-64 characters of [A-Za-z0-9._-]';
  if (!BASE64.test(encoded)) return 'key must be base64 (kid:base64)';
  const key = Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
  return { kid: kid || createHash('sha256').update(key).digest('hex').slice(0, 8), key };
}

export function parseKeyList(text: string): KeyMaterial[] | string {
  const keys: KeyMaterial[] = [];
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const parsed = parseKey(part);
    if (typeof parsed === 'string') return parsed;
    if (keys.some((k) => k.kid === parsed.kid)) return `duplicate key id "${parsed.kid}"`;
    keys.push(parsed);
  }
  return keys;
}

/**
 * Why a key is too weak to protect production data, or null. Random 32-byte keys have ~28
 * distinct byte values; fewer than 12 means a pattern, a password or a repeated byte.
 */
export function keyWeakness(raw: string, key: KeyMaterial, exactLength?: number): string | null {
  if (PUBLISHED_PLACEHOLDER_KEYS.has(raw.trim())) return 'is a published placeholder value';
  if (exactLength !== undefined && key.key.length !== exactLength) {
    return `must be exactly ${exactLength} bytes (got ${key.key.length})`;
  }
  if (key.key.length < 32) return `must be at least 32 bytes (got ${key.key.length})`;
  if (new Set(key.key).size < 12) return 'does not look random (too few distinct bytes)';
  return null;
}

export function formatKey(key: KeyMaterial): string {
  return `${key.kid}:${key.key.toString('base64')}`;
}

export function generateKey(kid: string): KeyMaterial {
  return { kid, key: randomBytes(32) };
}

/**
 * Reads NAME from the environment or from the file named by NAME_FILE (Docker/Kubernetes
 * secrets). Setting both is ambiguous and reported as a problem.
 */
export function readSecretVar(env: NodeJS.ProcessEnv, name: string, problems: string[]): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) {
    problems.push(`${name} and ${name}_FILE are both set; set only one`);
    return undefined;
  }
  if (!file) return direct === '' ? undefined : direct;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

interface DevSecrets {
  jwt_signing_key: string;
  encryption_keys: string;
}

/**
 * Development and test only: secrets are generated once into DATA_DIR (mode 0600) and reused,
 * so tokens and encrypted data survive restarts without any set-up.
 */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const path = join(dataDir, 'secrets.json');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as DevSecrets;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secrets: DevSecrets = {
    jwt_signing_key: formatKey(generateKey('dev-jwt-1')),
    encryption_keys: formatKey(generateKey('dev-enc-1')),
  };
  writeFileSync(path, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return secrets;
}

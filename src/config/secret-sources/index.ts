import pino from 'pino';
import { loggerOptions } from '../../platform/logging.ts';
import { ConfigError } from '../config.ts';
import { AwsSecretsManagerSource } from './aws-secrets-manager.ts';
import { SecretCache } from './secret-cache.ts';
import type { SecretSource } from './secret-source.ts';
import { isSecretVariable, SECRET_VARIABLES } from './secret-variables.ts';
import { splitSecretPath, tokenFromFile, VaultKvSource } from './vault.ts';

export { SecretCache, type SecretProvider } from './secret-cache.ts';
export { SecretSourceError } from './secret-source.ts';
export { SECRET_VARIABLES, type SecretVariable } from './secret-variables.ts';

export const DEFAULT_SECRETS_CACHE_TTL_SECONDS = 300;

export interface SecretLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface ResolveOptions {
  /** A provider the caller keeps for later re-reads; otherwise one is made and closed here. */
  provider?: SecretCache;
  log?: SecretLog;
}

const set = (value: string | undefined): value is string => value !== undefined && value !== '';

function validUrl(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function vaultSource(env: NodeJS.ProcessEnv, problems: string[]): SecretSource | undefined {
  // VAULT_ADDR and VAULT_TOKEN are also the Vault CLI's own variables, so only the path opts in.
  const secretPath = env.VAULT_SECRET_PATH;
  if (!set(secretPath)) return undefined;
  const addr = env.VAULT_ADDR;
  const url = set(addr) ? validUrl(addr) : undefined;
  if (!set(addr)) problems.push('VAULT_SECRET_PATH is set but VAULT_ADDR is not');
  else if (!url) problems.push('VAULT_ADDR must be an http or https URL');
  else if (
    env.DASHTAM_ENV === 'production' &&
    url.protocol === 'http:' &&
    !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
  ) {
    problems.push('VAULT_ADDR must be https in production (plain http only to a local Vault Agent)');
  }
  if (!splitSecretPath(secretPath))
    problems.push('VAULT_SECRET_PATH must be mount/path, e.g. secret/dashtam');
  const direct = env.VAULT_TOKEN;
  const file = env.VAULT_TOKEN_FILE;
  if (set(direct) && set(file)) problems.push('VAULT_TOKEN and VAULT_TOKEN_FILE are both set; set only one');
  else if (!set(direct) && !set(file))
    problems.push('VAULT_SECRET_PATH is set but neither VAULT_TOKEN nor VAULT_TOKEN_FILE');
  if (problems.length > 0 || !set(addr)) return undefined;
  return new VaultKvSource({
    addr,
    secretPath,
    token: set(file) ? tokenFromFile(file) : () => direct as string,
    ...(set(env.VAULT_NAMESPACE) ? { namespace: env.VAULT_NAMESPACE } : {}),
  });
}

function awsSource(env: NodeJS.ProcessEnv, problems: string[]): SecretSource | undefined {
  const secretId = env.AWS_SECRETS_MANAGER_SECRET_ID;
  if (!set(secretId)) return undefined;
  // The service-specific endpoint variable wins, as in the SDK's own lookup.
  const endpoint = [env.AWS_ENDPOINT_URL_SECRETS_MANAGER, env.AWS_ENDPOINT_URL].find(set);
  if (endpoint !== undefined && !validUrl(endpoint)) {
    problems.push('AWS_ENDPOINT_URL must be an http or https URL');
    return undefined;
  }
  const region = [env.AWS_REGION, env.AWS_DEFAULT_REGION].find(set);
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  // Passed explicitly because env may not be process.env (tests, a merged environment).
  const credentials =
    set(accessKeyId) && set(secretAccessKey)
      ? {
          accessKeyId,
          secretAccessKey,
          ...(set(env.AWS_SESSION_TOKEN) ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        }
      : undefined;
  return new AwsSecretsManagerSource({
    secretId,
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/**
 * The configured secret managers behind one TTL cache (Vault first, then AWS Secrets Manager),
 * or undefined when none is configured. Setting problems throw one ConfigError.
 */
export function createSecretProvider(
  env: NodeJS.ProcessEnv,
  now: () => number = Date.now,
): SecretCache | undefined {
  const problems: string[] = [];
  const rawTtl = env.SECRETS_CACHE_TTL_SECONDS;
  let ttlSeconds = DEFAULT_SECRETS_CACHE_TTL_SECONDS;
  if (set(rawTtl)) {
    ttlSeconds = /^\d+$/.test(rawTtl.trim()) ? Number(rawTtl) : Number.NaN;
    if (!(ttlSeconds <= 86_400)) {
      problems.push(`SECRETS_CACHE_TTL_SECONDS must be an integer between 0 and 86400 (got "${rawTtl}")`);
    }
  }
  const sources = [vaultSource(env, problems), awsSource(env, problems)].filter(
    (s): s is SecretSource => s !== undefined,
  );
  if (problems.length > 0) {
    for (const source of sources) source.close();
    throw new ConfigError(problems);
  }
  return sources.length === 0 ? undefined : new SecretCache(sources, { ttlMs: ttlSeconds * 1000, now });
}

function defaultLog(env: NodeJS.ProcessEnv): SecretLog {
  // loadConfig has not validated LOG_LEVEL yet: an unknown level falls back instead of throwing.
  const fallback = env.DASHTAM_ENV === 'test' ? 'silent' : 'info';
  const requested = env.LOG_LEVEL ?? fallback;
  const level = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(requested)
    ? requested
    : fallback;
  const logger = pino(loggerOptions(level));
  return { info: (message) => logger.info(message), warn: (message) => logger.warn(message) };
}

/**
 * Runs before the synchronous loadConfig: reads the configured secret managers once and returns
 * env with the secret variables it does not already set (as NAME or NAME_FILE) filled in.
 * Explicit environment always wins. Unknown keys are warned about by name, never by value.
 */
export async function resolveSecretSources(
  env: NodeJS.ProcessEnv,
  options: ResolveOptions = {},
): Promise<NodeJS.ProcessEnv> {
  const provider = options.provider ?? createSecretProvider(env);
  if (!provider) return env;
  try {
    const log = options.log ?? defaultLog(env);
    const documents = await provider.documents();
    const merged: NodeJS.ProcessEnv = { ...env };
    for (const { label, values } of documents) {
      const unknown = Object.keys(values).filter((key) => !isSecretVariable(key));
      if (unknown.length > 0) {
        log.warn(
          `${label}: ignoring keys that are not Dashtam secret variables: ${unknown.sort().join(', ')}`,
        );
      }
    }
    const filled = new Map<string, string[]>();
    const overridden: string[] = [];
    for (const name of SECRET_VARIABLES) {
      const holder = documents.find((d) => Object.hasOwn(d.values, name));
      if (!holder) continue;
      if (set(env[name]) || set(env[`${name}_FILE`])) {
        overridden.push(name);
        continue;
      }
      merged[name] = holder.values[name];
      filled.set(holder.label, [...(filled.get(holder.label) ?? []), name]);
    }
    for (const [label, names] of filled) log.info(`${label} supplied ${names.join(', ')}`);
    if (overridden.length > 0) {
      log.info(`the environment overrides the secret manager for ${overridden.join(', ')}`);
    }
    return merged;
  } finally {
    if (!options.provider) provider.close();
  }
}

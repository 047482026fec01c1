import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config, RateLimitPolicy } from '../../config/config.ts';
import { closeRedis, createRedisClient, settled } from '../redis.ts';
import { AppError } from './problems.ts';
import { createLimiters, type Outcome, type RateLimitStats, type StoreHooks } from './rate-limit.store.ts';

/** A custom key (e.g. the email of a password reset); undefined skips this rule for the request. */
export type RateLimitKey = (request: FastifyRequest) => string | undefined;
/** A policy keyed by the caller (see `identityKey`), or a policy with a key the route computes. */
export type RateLimitRule = RateLimitPolicy | { policy: RateLimitPolicy; key: RateLimitKey };
/** Route option `config.rateLimit`: one rule, several (all must pass), or false for none. */
export type RateLimitOption = false | RateLimitRule | readonly RateLimitRule[];

export interface RateLimits {
  stats: RateLimitStats;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    rateLimit?: RateLimitOption;
  }
  interface FastifyInstance {
    rateLimits: RateLimits;
  }
}

export interface RateLimitDeps extends StoreHooks {
  /** A shared client the caller owns and closes; otherwise one is made from REDIS_URL and closed with the app. */
  redis?: Redis;
  onReject?: (policy: RateLimitPolicy) => void;
}

// Operational routes and docs stay reachable whatever a client did.
const EXEMPT = /^\/(?:health|ready|metrics|openapi\.json)$|^\/(?:docs|problems)(?:\/|$)/;
const READ_METHODS = new Set(['GET', 'HEAD']);
// API.md keys these by client IP even when a token happens to be sent.
const IP_POLICIES = new Set<RateLimitPolicy>(['register', 'login', 'password_reset']);

/** The verified user when there is one, else the client IP (TRUST_PROXY decides what request.ip is). */
export function identityKey(request: FastifyRequest, policy: RateLimitPolicy): string {
  const userId = IP_POLICIES.has(policy) ? undefined : request.auth?.userId;
  return userId ? `user:${userId}` : `ip:${request.ip}`;
}

function rulesFor(request: FastifyRequest): readonly RateLimitRule[] {
  if (request.method === 'OPTIONS') return [];
  const path = request.routeOptions.url ?? request.url.split('?')[0] ?? '';
  if (EXEMPT.test(path)) return [];
  const declared = request.routeOptions.config?.rateLimit;
  if (declared === false) return [];
  if (declared !== undefined) return Array.isArray(declared) ? declared : [declared as RateLimitRule];
  if (path !== '/api/v1' && !path.startsWith('/api/v1/')) return [];
  return [READ_METHODS.has(request.method) ? 'read' : 'write'];
}

// Keys can be emails or IPs: the store only ever sees their hashes.
function hashed(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 32);
}

interface Verdict extends Outcome {
  policy: RateLimitPolicy;
}

/** Lowest remaining first; on a tie the one that resets last. */
function moreRestrictive(a: Verdict, b: Verdict | undefined): boolean {
  return !b || a.remaining < b.remaining || (a.remaining === b.remaining && a.msBeforeNext > b.msBeforeNext);
}

export function registerRateLimits(
  app: FastifyInstance,
  config: Config,
  deps: RateLimitDeps = {},
): RateLimits {
  const ownsRedis = !deps.redis && config.redisUrl !== undefined;
  const redis = deps.redis ?? (config.redisUrl ? createRedisClient(config.redisUrl, app.log) : undefined);
  const limiters = createLimiters(config.rateLimits, {
    redis,
    keyPrefix: config.redisKeyPrefix,
    log: app.log,
    onFallback: deps.onFallback,
  });
  // Headers report the most restrictive verdict across both phases of a request.
  const reported = new WeakMap<FastifyRequest, Verdict>();

  async function check(request: FastifyRequest, reply: FastifyReply, custom: boolean): Promise<void> {
    const rules = rulesFor(request).filter((rule) => (typeof rule === 'object') === custom);
    if (rules.length === 0) return;
    const checks: Promise<Verdict>[] = [];
    for (const rule of rules) {
      const policy = typeof rule === 'object' ? rule.policy : rule;
      const key = typeof rule === 'object' ? rule.key(request) : identityKey(request, policy);
      if (!key) continue;
      const scoped = typeof rule === 'object' ? `key:${key}` : key;
      checks.push(limiters.consume(policy, hashed(scoped)).then((outcome) => ({ ...outcome, policy })));
    }
    const verdicts = await Promise.all(checks);
    let shown = reported.get(request);
    for (const verdict of verdicts) if (moreRestrictive(verdict, shown)) shown = verdict;
    if (!shown) return;
    reported.set(request, shown);
    const rule = config.rateLimits[shown.policy];
    const reset = Math.max(0, Math.ceil(shown.msBeforeNext / 1000));
    reply.header('ratelimit-limit', String(rule.points));
    reply.header('ratelimit-remaining', String(shown.remaining));
    reply.header('ratelimit-reset', String(reset));
    reply.header('ratelimit-policy', `${rule.points};w=${rule.seconds}`);

    const rejected = verdicts.filter((v) => !v.allowed);
    if (rejected.length === 0) return;
    const retryAfter = Math.max(1, ...rejected.map((v) => Math.ceil(v.msBeforeNext / 1000)));
    for (const v of rejected) deps.onReject?.(v.policy);
    throw new AppError('rate_limited', {
      detail: `Too many requests (${rejected[0]!.policy} limit). Retry in ${retryAfter} s.`,
      retryAfter,
    });
  }

  // preParsing runs after every onRequest hook (where authentication sets request.auth) and
  // before the body is read, so rejected floods cost no parsing. Custom keys may need the body
  // (an email), so they are checked at preValidation: parsed, not yet validated.
  app.addHook('preParsing', async (request, reply, payload) => {
    await check(request, reply, false);
    return payload;
  });
  app.addHook('preValidation', async (request, reply) => check(request, reply, true));
  if (redis) app.addHook('onReady', () => settled(redis));
  if (redis && ownsRedis) app.addHook('onClose', () => closeRedis(redis));

  const handle: RateLimits = { stats: limiters.stats };
  app.decorate('rateLimits', handle);
  return handle;
}

import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RATE_LIMIT_POLICIES, type RateLimitPolicy, type RateLimitRule } from '../../config/config.ts';

/** What one consumed point tells the caller. */
export interface Outcome {
  allowed: boolean;
  remaining: number;
  msBeforeNext: number;
}

/** Read by the metrics module; one object per app. */
export interface RateLimitStats {
  store: 'memory' | 'redis';
  /** Checks decided by the per-process insurance limiter because Redis failed. */
  redisFallbacks: number;
  /** Times Redis went from working to failing (each logged once). */
  redisOutages: number;
}

export interface StoreHooks {
  onFallback?: () => void;
}

const FROM_INSURANCE = Symbol('fromInsurance');
type Tagged = RateLimiterRes & { [FROM_INSURANCE]?: true };

/** The insurance limiter marks what it decides, so the caller can tell outage from recovery. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    opts: ConstructorParameters<typeof RateLimiterMemory>[0],
    private readonly onUse: () => void,
  ) {
    super(opts);
  }

  override consume(key: string | number, points?: number, options?: Record<string, unknown>) {
    this.onUse();
    const tag = (res: Tagged) => {
      res[FROM_INSURANCE] = true;
      return res;
    };
    return super.consume(key, points, options).then(tag, (res: Tagged) => {
      throw tag(res);
    });
  }
}

export interface Limiters {
  consume(policy: RateLimitPolicy, key: string): Promise<Outcome>;
  stats: RateLimitStats;
}

/**
 * One limiter per policy: in memory, or in Redis with an in-memory insurance limiter so an
 * outage degrades limits to per-process instead of removing them.
 */
export function createLimiters(
  rules: Record<RateLimitPolicy, RateLimitRule>,
  options: { redis?: Redis; keyPrefix: string; log: FastifyBaseLogger } & StoreHooks,
): Limiters {
  const { redis, log } = options;
  const stats: RateLimitStats = { store: redis ? 'redis' : 'memory', redisFallbacks: 0, redisOutages: 0 };
  let degraded = false;
  const fellBack = () => {
    stats.redisFallbacks += 1;
    options.onFallback?.();
    if (degraded) return;
    degraded = true;
    stats.redisOutages += 1;
    log.error(
      { redis_status: redis?.status },
      'rate limits fell back to per-process memory: Redis is unreachable',
    );
  };

  const limiters = new Map<RateLimitPolicy, RateLimiterMemory | RateLimiterRedis>();
  for (const policy of RATE_LIMIT_POLICIES) {
    const { points, seconds: duration } = rules[policy];
    limiters.set(
      policy,
      redis
        ? new RateLimiterRedis({
            storeClient: redis,
            keyPrefix: `${options.keyPrefix}rl:${policy}`,
            points,
            duration,
            rejectIfRedisNotReady: true,
            insuranceLimiter: new InsuranceLimiter({ keyPrefix: policy, points, duration }, fellBack),
          })
        : new RateLimiterMemory({ keyPrefix: policy, points, duration }),
    );
  }

  return {
    stats,
    async consume(policy, key) {
      const limiter = limiters.get(policy)!;
      let res: Tagged;
      let allowed = true;
      try {
        res = await limiter.consume(key);
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        res = err;
        allowed = false;
      }
      if (degraded && redis && !res[FROM_INSURANCE]) {
        degraded = false;
        log.info('rate limits are shared through Redis again');
      }
      return { allowed, remaining: res.remainingPoints, msBeforeNext: res.msBeforeNext };
    },
  };
}

/** The rate-limit policies of API.md and their defaults (RATE_LIMITS overrides them). */
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

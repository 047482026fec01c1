/** The identity module's public surface (other modules import only this). */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/config.ts';
import type { KeyStore } from '../../platform/crypto/index.ts';
import type { Database } from '../../platform/db/index.ts';
import type { Mailer } from '../../platform/mail/index.ts';
import type { AuditService } from '../audit/index.ts';
import { registerAccountRoutes } from './identity.account.routes.ts';
import { AccountService } from './identity.account.ts';
import { registerAuthentication } from './identity.auth.ts';
import { registerMfaRoutes } from './identity.mfa.routes.ts';
import { MfaService } from './identity.mfa.ts';
import { PasswordHasher } from './identity.passwords.ts';
import { registerIdentityRoutes } from './identity.routes.ts';
import { UserService } from './identity.service.ts';
import { SessionCache } from './identity.session-cache.ts';
import { SessionService } from './identity.sessions.ts';
import { AccessTokens } from './identity.tokens.ts';

export { authenticate, effectiveRoles } from './identity.auth.ts';
export { assertStrongPassword, PasswordHasher } from './identity.passwords.ts';
export { UserService, type UserView } from './identity.service.ts';
export { SessionService, type TokenPair } from './identity.sessions.ts';
export { AccessTokens } from './identity.tokens.ts';

/** Trusted session state lives this long without a database read (ADR 0011). */
export const SESSION_CACHE_TTL_MS = 5000;
const REFRESH_INDEX_MAX = 50_000;

export interface Identity {
  users: UserService;
  sessions: SessionService;
  tokens: AccessTokens;
  cache: SessionCache;
}

/** Builds the identity services and registers the authentication hook and the identity routes. */
export function registerIdentity(
  app: FastifyInstance,
  config: Config,
  deps: { db: Database; audit: AuditService; mailer: Mailer; keys: KeyStore },
): Identity {
  const passwords = new PasswordHasher();
  const tokens = new AccessTokens({
    signingKey: config.secrets.jwtSigningKey,
    verifyKeys: config.secrets.jwtVerifyKeys,
    ttlSeconds: config.accessTokenTtlSeconds,
    issuer: config.publicBaseUrl,
    audience: 'dashtam-api',
  });
  const cache = new SessionCache(deps.db, { ttlMs: SESSION_CACHE_TTL_MS, maxEntries: 100_000 });
  // Refresh token hash → session id, for the per-session `refresh` rate limit (bounded, oldest out).
  const refreshIndex = new Map<string, string>();
  const users = new UserService({
    ...deps,
    passwords,
    publicBaseUrl: config.publicBaseUrl,
    adminEmails: config.adminEmails,
    onUserChanged: (userId) => cache.invalidateUser(userId),
  });
  const mfa = new MfaService({ ...deps, passwords });
  const sessions = new SessionService({
    ...deps,
    mfa,
    passwords,
    tokens,
    cache,
    adminEmails: config.adminEmails,
    loginMaxFailures: config.loginMaxFailures,
    sessionCap: config.sessionCap,
    refreshReuseLeewaySeconds: config.refreshReuseLeewaySeconds,
    onRefreshIssued: (hash, sessionId) => {
      if (refreshIndex.size >= REFRESH_INDEX_MAX) {
        const oldest = refreshIndex.keys().next();
        if (!oldest.done) refreshIndex.delete(oldest.value);
      }
      refreshIndex.set(hash, sessionId);
    },
  });
  registerAuthentication(app, { tokens, sessions: cache, adminEmails: config.adminEmails });
  registerIdentityRoutes(app, { users, sessions, sessionOfRefresh: (hash) => refreshIndex.get(hash) });
  const account = new AccountService({ ...deps, passwords, cache, publicBaseUrl: config.publicBaseUrl });
  registerAccountRoutes(app, account);
  registerMfaRoutes(app, mfa);
  return { users, sessions, tokens, cache };
}

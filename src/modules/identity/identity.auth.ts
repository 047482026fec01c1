import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthContext } from '../../platform/http/auth-context.ts';
import { AppError } from '../../platform/http/problems.ts';
import type { SessionStateRow } from './identity.repository.ts';
import type { SessionCache } from './identity.session-cache.ts';
import type { AccessClaims, AccessTokens } from './identity.tokens.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs a valid bearer access token (checked at onRequest, before the body). */
    auth?: boolean;
  }
}

export interface Authenticator {
  tokens: AccessTokens;
  sessions: SessionCache;
  adminEmails: readonly string[];
}

/** The roles a user holds: their stored roles, plus `admin` when their verified email is listed. */
export function effectiveRoles(
  user: { email: string; email_verified_at: Date | null; roles: string[] },
  adminEmails: readonly string[],
): string[] {
  const roles = new Set(user.roles);
  if (user.email_verified_at && adminEmails.includes(user.email.toLowerCase())) roles.add('admin');
  return [...roles].sort();
}

function usable(state: SessionStateRow | null, claims: AccessClaims): state is SessionStateRow {
  return (
    state !== null &&
    state.user_id === claims.sub &&
    state.revoked_at === null &&
    state.expires_at.getTime() > Date.now() &&
    state.disabled_at === null &&
    claims.ver >= state.min_token_version
  );
}

function unauthorized(detail: string, tokenSent: boolean): AppError {
  return new AppError('unauthorized', {
    detail,
    userAction: 'reauthenticate',
    headers: { 'www-authenticate': tokenSent ? 'Bearer error="invalid_token"' : 'Bearer' },
  });
}

/** Verifies a request's bearer token against its session; the auth context, or throws 401. */
export async function authenticate(request: FastifyRequest, deps: Authenticator): Promise<AuthContext> {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw unauthorized('This route needs an access token: Authorization: Bearer <token>.', false);
  const claims = deps.tokens.verify(match[1]!);
  if (!claims) throw unauthorized('The access token is invalid or expired.', true);
  const state = await deps.sessions.get(claims.sid);
  if (!usable(state, claims)) throw unauthorized('The session of this access token has ended.', true);
  return {
    userId: state.user_id,
    sessionId: state.session_id,
    roles: effectiveRoles(state, deps.adminEmails),
  };
}

/** Authenticates every route declaring `config: { auth: true }`, at onRequest (before rate limits and the body). */
export function registerAuthentication(app: FastifyInstance, deps: Authenticator): void {
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.auth !== true) return;
    request.auth = await authenticate(request, deps);
  });
}

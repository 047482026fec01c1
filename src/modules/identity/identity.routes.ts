import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AuthContext } from '../../platform/http/auth-context.ts';
import { AppError } from '../../platform/http/problems.ts';
import { problemResponses } from '../../platform/http/schemas.ts';
import { auditContextFrom } from '../audit/index.ts';
import {
  EmailBody,
  IdParams,
  ListQuery,
  LoginBody,
  PatchMeBody,
  RefreshBody,
  RegisterBody,
  SessionList,
  SessionSchema,
  TokenBody,
  TokenPairSchema,
  UserSchema,
} from './identity.schemas.ts';
import type { UserService } from './identity.service.ts';
import type { SessionService } from './identity.sessions.ts';

export interface IdentityRouteDeps {
  users: UserService;
  sessions: SessionService;
  /** The session a refresh token belongs to, when this process issued it (rate-limit key). */
  sessionOfRefresh: (refreshTokenHash: string) => string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TAGS = ['identity'];
const BEARER = [{ bearer: [] }];

function authOf(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new AppError('unauthorized');
  return request.auth;
}

/** Path ids that are not UUIDs are simply not found (API.md). */
function sessionIdParam(id: string): string {
  if (!UUID.test(id)) throw new AppError('not_found');
  return id.toLowerCase();
}

/**
 * The `refresh` limit is per session (API.md). The body's token names it: looked up among the
 * tokens this process issued, else the token's own hash stands in for the session.
 */
function refreshKey(deps: IdentityRouteDeps) {
  return (request: FastifyRequest): string | undefined => {
    const token = (request.body as { refresh_token?: unknown } | undefined)?.refresh_token;
    if (typeof token !== 'string') return undefined;
    const hash = createHash('sha256').update(token).digest('base64url');
    const sessionId = deps.sessionOfRefresh(hash);
    return sessionId ? `session:${sessionId}` : `refresh:${hash}`;
  };
}

export function registerIdentityRoutes(app: FastifyInstance, deps: IdentityRouteDeps): void {
  const { users, sessions } = deps;

  app.post<{ Body: { email: string; password: string; name?: string | null } }>(
    '/api/v1/users',
    {
      config: { rateLimit: 'register' },
      schema: {
        tags: TAGS,
        summary: 'Register; a verification link is emailed',
        body: RegisterBody,
        response: { 201: UserSchema, ...problemResponses(409, 422, 429) },
      },
    },
    async (request, reply) => {
      const user = await users.register(request.body, auditContextFrom(request));
      return reply.code(201).send(user);
    },
  );

  app.post<{ Body: { token: string } }>(
    '/api/v1/email-verifications',
    {
      config: { idempotency: false },
      schema: {
        tags: TAGS,
        summary: 'Verify an email address with the emailed token',
        body: TokenBody,
        response: { 200: Type.Object({ verified: Type.Literal(true) }), ...problemResponses(400, 422) },
      },
    },
    async (request) => {
      await users.verifyEmail(request.body.token, auditContextFrom(request));
      return { verified: true as const };
    },
  );

  app.post<{ Body: { email: string } }>(
    '/api/v1/email-verification-requests',
    {
      // Sending verification mail is part of registering: it shares the per-IP `register` limit.
      config: { rateLimit: 'register' },
      schema: {
        tags: TAGS,
        summary: 'Send a new verification link (same answer for every email)',
        body: EmailBody,
        response: { 202: Type.Object({}), ...problemResponses(422, 429) },
      },
    },
    async (request, reply) => {
      await users.resendVerification(request.body.email);
      return reply.code(202).send({});
    },
  );

  app.post<{ Body: { email: string; password: string; totp_code?: string } }>(
    '/api/v1/sessions',
    {
      config: { rateLimit: 'login', idempotency: false },
      schema: {
        tags: TAGS,
        summary: 'Sign in: a new session and its token pair',
        body: LoginBody,
        response: { 201: TokenPairSchema, ...problemResponses(401, 403, 422, 429) },
      },
    },
    async (request, reply) => {
      const pair = await sessions.login(request.body, auditContextFrom(request));
      return reply.code(201).send(pair);
    },
  );

  app.post<{ Body: { refresh_token: string } }>(
    '/api/v1/tokens',
    {
      config: { rateLimit: { policy: 'refresh', key: refreshKey(deps) }, idempotency: false },
      schema: {
        tags: TAGS,
        summary: 'Refresh: a new token pair; the refresh token is rotated',
        body: RefreshBody,
        response: { 201: TokenPairSchema, ...problemResponses(401, 422, 429) },
      },
    },
    async (request, reply) => {
      const pair = await sessions.refresh(request.body.refresh_token, auditContextFrom(request));
      return reply.code(201).send(pair);
    },
  );

  app.delete(
    '/api/v1/sessions/current',
    {
      config: { auth: true },
      schema: { tags: TAGS, summary: 'Sign out', security: BEARER, response: problemResponses(401) },
    },
    async (request, reply) => {
      const auth = authOf(request);
      await sessions.revoke(auth.userId, auth.sessionId, 'logout', auditContextFrom(request));
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    '/api/v1/sessions',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Your active sessions, newest first',
        security: BEARER,
        querystring: ListQuery,
        response: { 200: SessionList, ...problemResponses(400, 401, 422) },
      },
    },
    async (request) => {
      const auth = authOf(request);
      return sessions.list(auth.userId, auth.sessionId, request.query.limit, request.query.cursor);
    },
  );

  app.delete(
    '/api/v1/sessions',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Revoke every session but the current one',
        security: BEARER,
        response: { 200: Type.Object({ revoked_count: Type.Integer() }), ...problemResponses(401) },
      },
    },
    async (request) => {
      const auth = authOf(request);
      return {
        revoked_count: await sessions.revokeOthers(auth.userId, auth.sessionId, auditContextFrom(request)),
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/sessions/:id',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'One of your sessions',
        security: BEARER,
        params: IdParams,
        response: { 200: SessionSchema, ...problemResponses(401, 404) },
      },
    },
    async (request) => {
      const auth = authOf(request);
      return sessions.get(auth.userId, auth.sessionId, sessionIdParam(request.params.id));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/sessions/:id',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Revoke one of your sessions',
        security: BEARER,
        params: IdParams,
        response: problemResponses(401, 404),
      },
    },
    async (request, reply) => {
      const auth = authOf(request);
      const id = sessionIdParam(request.params.id);
      await sessions.revoke(auth.userId, id, 'revoked_by_user', auditContextFrom(request));
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/users/me',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Your profile',
        security: BEARER,
        response: { 200: UserSchema, ...problemResponses(401) },
      },
    },
    async (request) => users.me(authOf(request).userId),
  );

  app.patch<{ Body: { name?: string | null } }>(
    '/api/v1/users/me',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Change your profile',
        security: BEARER,
        body: PatchMeBody,
        response: { 200: UserSchema, ...problemResponses(401, 422) },
      },
    },
    async (request) => users.updateMe(authOf(request).userId, request.body, auditContextFrom(request)),
  );
}

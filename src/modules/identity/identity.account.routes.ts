import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AuthContext } from '../../platform/http/auth-context.ts';
import { AppError } from '../../platform/http/problems.ts';
import { problemResponses } from '../../platform/http/schemas.ts';
import { auditContextFrom } from '../audit/index.ts';
import type { AccountService } from './identity.account.ts';
import { ChangePasswordBody, EmailBody, EmailChangeBody, PasswordResetBody } from './identity.schemas.ts';

const TAGS = ['identity'];
const BEARER = [{ bearer: [] }];

function authOf(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new AppError('unauthorized');
  return request.auth;
}

/** password_reset is limited per email as well as per IP (API.md), known and unknown alike. */
function resetEmailKey(request: FastifyRequest): string | undefined {
  const email = (request.body as { email?: unknown } | undefined)?.email;
  return typeof email === 'string' ? `email:${email.trim().toLowerCase()}` : undefined;
}

/** Password change and reset, email change. */
export function registerAccountRoutes(app: FastifyInstance, account: AccountService): void {
  app.post<{ Body: { current_password: string; new_password: string } }>(
    '/api/v1/users/me/password',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Change your password; every other session is signed out',
        security: BEARER,
        body: ChangePasswordBody,
        response: problemResponses(401, 422),
      },
    },
    async (request, reply) => {
      const auth = authOf(request);
      await account.changePassword(auth.userId, auth.sessionId, request.body, auditContextFrom(request));
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { email: string } }>(
    '/api/v1/password-reset-requests',
    {
      config: { rateLimit: ['password_reset', { policy: 'password_reset', key: resetEmailKey }] },
      schema: {
        tags: TAGS,
        summary: 'Email a password reset link (same answer for every email)',
        body: EmailBody,
        response: { 202: Type.Object({}), ...problemResponses(422, 429) },
      },
    },
    async (request, reply) => {
      await account.requestPasswordReset(request.body.email, auditContextFrom(request));
      return reply.code(202).send({});
    },
  );

  app.post<{ Body: { token: string; new_password: string } }>(
    '/api/v1/password-resets',
    {
      config: { idempotency: false },
      schema: {
        tags: TAGS,
        summary: 'Set a new password with the emailed token; every session is signed out',
        body: PasswordResetBody,
        response: problemResponses(400, 422),
      },
    },
    async (request, reply) => {
      await account.resetPassword(request.body, auditContextFrom(request));
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { new_email: string; password: string } }>(
    '/api/v1/users/me/email',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Change your email: a confirmation link goes to the new address',
        security: BEARER,
        body: EmailChangeBody,
        response: { 202: Type.Object({}), ...problemResponses(401, 409, 422) },
      },
    },
    async (request, reply) => {
      await account.requestEmailChange(authOf(request).userId, request.body, auditContextFrom(request));
      return reply.code(202).send({});
    },
  );
}

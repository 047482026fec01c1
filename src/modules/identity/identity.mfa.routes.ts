import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthContext } from '../../platform/http/auth-context.ts';
import { AppError } from '../../platform/http/problems.ts';
import { problemResponses } from '../../platform/http/schemas.ts';
import { auditContextFrom } from '../audit/index.ts';
import type { MfaService } from './identity.mfa.ts';
import { RecoveryCodes, TotpConfirmBody, TotpDisableBody, TotpEnrollment } from './identity.schemas.ts';

const TAGS = ['identity'];
const BEARER = [{ bearer: [] }];

function authOf(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new AppError('unauthorized');
  return request.auth;
}

/** TOTP enrolment, confirmation and removal. Secrets and recovery codes are never replayed. */
export function registerMfaRoutes(app: FastifyInstance, mfa: MfaService): void {
  app.post(
    '/api/v1/users/me/mfa/totp',
    {
      config: { auth: true, idempotency: false },
      schema: {
        tags: TAGS,
        summary: 'Start TOTP enrolment: a new secret, pending until confirmed',
        security: BEARER,
        response: { 201: TotpEnrollment, ...problemResponses(401, 409) },
      },
    },
    async (request, reply) => {
      const enrollment = await mfa.enroll(authOf(request).userId, auditContextFrom(request));
      return reply.code(201).send(enrollment);
    },
  );

  app.post<{ Body: { totp_code: string } }>(
    '/api/v1/users/me/mfa/totp/confirmations',
    {
      config: { auth: true, idempotency: false },
      schema: {
        tags: TAGS,
        summary: 'Confirm TOTP enrolment with a current code: MFA is on; 10 recovery codes, shown once',
        description: '400 invalid_mfa_code also when no enrolment is pending.',
        security: BEARER,
        body: TotpConfirmBody,
        response: { 200: RecoveryCodes, ...problemResponses(400, 401, 409, 422) },
      },
    },
    async (request) => ({
      recovery_codes: await mfa.confirm(
        authOf(request).userId,
        request.body.totp_code,
        auditContextFrom(request),
      ),
    }),
  );

  app.delete<{ Body: { password: string; totp_code: string } }>(
    '/api/v1/users/me/mfa/totp',
    {
      config: { auth: true },
      schema: {
        tags: TAGS,
        summary: 'Turn TOTP off (password and a current or recovery code)',
        description: '404 not_found when MFA is not on.',
        security: BEARER,
        body: TotpDisableBody,
        response: problemResponses(401, 404, 422),
      },
    },
    async (request, reply) => {
      await mfa.disable(authOf(request).userId, request.body, auditContextFrom(request));
      return reply.code(204).send();
    },
  );
}

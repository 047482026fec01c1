import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { problemResponses } from '../http/schemas.ts';
import type { Mailer } from './mailer.service.ts';

const MailboxQuery = Type.Object(
  { to: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'recipient, any case' })) },
  { additionalProperties: false },
);

const MailboxResponse = Type.Object({
  data: Type.Array(
    Type.Object({
      id: Type.String({ format: 'uuid' }),
      to: Type.String(),
      subject: Type.String(),
      text: Type.String({ description: 'the plain-text body, links (with their tokens) included' }),
      created_at: Type.String({ format: 'date-time' }),
    }),
  ),
});

/**
 * GET /api/v1/dev/mailbox: the messages this server sent, so development and tests can follow
 * emailed links. Registered only outside production; there the path is an ordinary 404.
 */
export function registerMailboxRoutes(app: FastifyInstance, deps: { mailer: Mailer }): void {
  app.get<{ Querystring: { to?: string } }>(
    '/api/v1/dev/mailbox',
    {
      schema: {
        tags: ['development'],
        summary: 'Messages sent by this server, newest first (development and test only)',
        querystring: MailboxQuery,
        response: { 200: MailboxResponse, ...problemResponses(422) },
      },
    },
    async (request) => ({ data: await deps.mailer.mailbox(request.query.to) }),
  );
}

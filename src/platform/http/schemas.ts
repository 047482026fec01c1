import { Type } from 'typebox';
import { PROBLEMS } from './problems.ts';

/** RFC 9457 problem document, as every error response of the API carries it. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: '/problems/{code}, a page explaining the code' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String(),
    code: Type.String({ enum: Object.keys(PROBLEMS) }),
    request_id: Type.String(),
    timestamp: Type.String({ format: 'date-time' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.Optional(Type.String()),
          line: Type.Optional(Type.Integer()),
          element: Type.Optional(Type.String()),
          code: Type.String(),
          message: Type.String(),
        }),
      ),
    ),
    retryable: Type.Optional(Type.Boolean()),
    retry_after: Type.Optional(Type.Integer()),
    user_action: Type.Optional(
      Type.String({ enum: ['reauthenticate', 'verify_email', 'wait', 'contact_support'] }),
    ),
  },
  { $id: 'Problem', title: 'Problem' },
);

/** Response schemas for the given error statuses, all problem+json (documentation only). */
export function problemResponses(...statuses: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const status of statuses) {
    out[status] = {
      description: 'Problem',
      content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
    };
  }
  return out;
}

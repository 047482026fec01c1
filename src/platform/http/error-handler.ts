import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFoundProblem } from './not-found.ts';
import { AppError, type FieldError, PROBLEMS, type ProblemCode } from './problems.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Sends an AppError as RFC 9457 problem+json, with request_id and timestamp. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  const { options } = error;
  const body: Record<string, unknown> = {
    type: `/problems/${error.code}`,
    title: PROBLEMS[error.code].title,
    status: error.status,
    detail: error.message,
    instance: request.url.split('?')[0],
    code: error.code,
    request_id: request.id,
    timestamp: new Date().toISOString(),
  };
  if (options.errors) body.errors = options.errors;
  if (options.retryable !== undefined) body.retryable = options.retryable;
  if (options.retryAfter !== undefined) {
    body.retry_after = options.retryAfter;
    reply.header('retry-after', String(options.retryAfter));
  }
  if (options.userAction) body.user_action = options.userAction;
  for (const [name, value] of Object.entries(options.headers ?? {})) reply.header(name, value);
  return reply.code(error.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

const KEYWORD_CODES: Record<string, string> = {
  required: 'required',
  additionalProperties: 'unknown_field',
  type: 'invalid_type',
  format: 'invalid_format',
  pattern: 'invalid_format',
  enum: 'invalid_value',
  const: 'invalid_value',
  anyOf: 'invalid_value',
  minLength: 'too_short',
  maxLength: 'too_long',
  minimum: 'out_of_range',
  maximum: 'out_of_range',
  exclusiveMinimum: 'out_of_range',
  exclusiveMaximum: 'out_of_range',
  minItems: 'too_few',
  maxItems: 'too_many',
};

/** Ajv errors → `[{field, code, message}]`, field as a dotted property path. */
export function fieldErrors(errors: ErrorObject[], context: string): FieldError[] {
  const seen = new Set<string>();
  const result: FieldError[] = [];
  for (const e of errors) {
    const path = e.instancePath.split('/').filter(Boolean);
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      path.push(String(e.params.missingProperty));
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      path.push(String(e.params.additionalProperty));
      message = 'is not an allowed property';
    }
    const field = path.length > 0 ? path.join('.') : context;
    const code = KEYWORD_CODES[e.keyword] ?? 'invalid';
    const key = `${field}|${code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push({ field, code, message });
  }
  return result;
}

/** Maps Fastify's own errors (parsing, limits) onto our generic codes. */
function fromFastifyError(error: FastifyError, request: FastifyRequest): AppError | undefined {
  if (error.validation) {
    // A path id that fails its format (not a UUID) names nothing: 404, never 422.
    if (error.validationContext === 'params') return new AppError('not_found');
    const context = error.validationContext ?? 'body';
    return new AppError('validation_failed', {
      detail: 'The request has invalid fields.',
      errors: fieldErrors(error.validation as ErrorObject[], context),
    });
  }
  switch (error.statusCode) {
    case 400:
      return new AppError('malformed_request', { detail: 'The request body could not be parsed.' });
    case 404:
      return new AppError('not_found');
    case 413:
      return new AppError('payload_too_large');
    case 415:
      return new AppError('unsupported_media_type', {
        detail: `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not accepted here.`,
      });
    default:
      return undefined;
  }
}

export function errorHandler(
  this: FastifyInstance,
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  if (error instanceof AppError) return sendProblem(request, reply, error);
  // A body that fails to parse on a route that does not exist: the route is the real problem.
  if (request.is404) return sendProblem(request, reply, notFoundProblem(this, request));
  const mapped = fromFastifyError(error, request);
  if (mapped) return sendProblem(request, reply, mapped);
  const status =
    error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  if (status === 500) request.log.error({ err: error }, 'unhandled error');
  const code = (Object.entries(PROBLEMS).find(([, p]) => p.status === status)?.[0] ??
    'internal_error') as ProblemCode;
  return sendProblem(request, reply, new AppError(code, status === 500 ? {} : { status }));
}

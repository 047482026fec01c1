import type { FastifyRequest } from 'fastify';
import type { AuditRequestContext } from './audit.types.ts';

const ADMIN_PATH = /\/admin(\/|$)/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const MAX_USER_AGENT = 512;

/** The W3C trace id of a `traceparent` header, or null (absent, malformed or all zeros). */
export function traceIdFrom(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value ? TRACEPARENT.exec(value.trim().toLowerCase()) : null;
  return match ? validTraceId(match[1]!) : null;
}

function validTraceId(id: string): string | null {
  return /^[0-9a-f]{32}$/.test(id) && !/^0+$/.test(id) ? id : null;
}

/** The trace of the request's server span when tracing is on, else of its `traceparent` header. */
function requestTraceId(request: FastifyRequest): string | null {
  // Read structurally: the span only exists when the tracing plugin is registered.
  const span = (request as { span?: { spanContext(): { traceId: string } } }).span;
  const fromSpan = span ? validTraceId(span.spanContext().traceId) : null;
  return fromSpan ?? traceIdFrom(request.headers.traceparent);
}

/**
 * Who, where and how of a request for its audit events. The actor is the verified user of
 * `request.auth` (acting as `admin` on admin routes when they hold the role), else anonymous.
 */
export function auditContextFrom(request: FastifyRequest): AuditRequestContext {
  const path = request.url.split('?', 1)[0] ?? request.url;
  const auth = request.auth;
  const userAgent = request.headers['user-agent'];
  return {
    requestId: request.id,
    method: request.method,
    path,
    ip: request.ip ?? null,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, MAX_USER_AGENT) : null,
    userId: auth?.userId ?? null,
    sessionId: auth?.sessionId ?? null,
    actorType: auth
      ? auth.roles.includes('admin') && ADMIN_PATH.test(path)
        ? 'admin'
        : 'user'
      : 'anonymous',
    traceId: requestTraceId(request),
  };
}

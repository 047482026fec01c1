import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/config.ts';
import { redactUrl } from '../logging.ts';

const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Echoes a well-formed incoming X-Request-Id (so callers can trace), else makes a new one. */
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** JSON answers never render, so they get the strictest policy; HTML pages opt into more. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Per-request plumbing: request id and timing headers, security headers, no-store caching for
 * the API, and a warning for slow requests.
 */
export function registerRequestContext(app: FastifyInstance, config: Config): void {
  const production = config.env === 'production';

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-process-time', reply.elapsedTime.toFixed(2));
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('cross-origin-opener-policy', 'same-origin');
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', API_CSP);
    if (production) reply.header('strict-transport-security', 'max-age=63072000; includeSubDomains');
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    if (reply.elapsedTime > config.http.slowRequestMs) {
      request.log.warn(
        {
          method: request.method,
          url: redactUrl(request.url),
          status: reply.statusCode,
          duration_ms: reply.elapsedTime,
        },
        'slow request',
      );
    }
  });
}

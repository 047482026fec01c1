import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';

/** Any key naming a credential is redacted, at any depth, in every log line. */
const SENSITIVE_KEY =
  /authorization|cookie|password|passwd|token|secret|credential|api[-_]?key|totp|otp_?code/i;
const SENSITIVE_QUERY = /token|code|state|secret|password|ticket|key/i;
export const REDACTED = '[REDACTED]';
const MAX_DEPTH = 8;

export function redactDeep(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (value instanceof Error) {
    const { name, message, stack } = value;
    return redactDeep({ ...value, type: name, message, stack }, depth);
  }
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  // Class instances (requests, replies) are left to their serializers; only plain data is walked.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SENSITIVE_KEY.test(key) ? REDACTED : redactDeep(inner, depth + 1);
  }
  return out;
}

/** Hides the values of query parameters that carry secrets (email links, OAuth callbacks, SSE tickets). */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && SENSITIVE_QUERY.test(decodeURIComponent(name)) ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    messageKey: 'msg',
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => redactDeep(object) as Record<string, unknown>,
    },
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: redactUrl(req.url),
        remote_address: req.ip,
        user_agent: req.headers['user-agent'],
      }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
  };
}

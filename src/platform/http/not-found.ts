import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sendProblem } from './error-handler.ts';
import { AppError } from './problems.ts';

function patternToRegExp(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/**
 * Fastify answers a known path with an unknown method as 404. We remember every route's
 * pattern so those get 405 with an Allow header, and everything else a 404 problem.
 */
const routes = new WeakMap<FastifyInstance, { pattern: RegExp; methods: string[] }[]>();

export function registerNotFound(app: FastifyInstance): void {
  const known: { pattern: RegExp; methods: string[] }[] = [];
  routes.set(app, known);
  app.addHook('onRoute', (route) => {
    // The CORS preflight catch-all (OPTIONS *) would make every path look known.
    if (route.url === '*' || route.url === '/*') return;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => m.toUpperCase());
    known.push({ pattern: patternToRegExp(route.url), methods });
  });
  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, notFoundProblem(app, request)));
}

/** 405 with Allow when the path exists under other methods, else 404. */
export function notFoundProblem(app: FastifyInstance, request: FastifyRequest): AppError {
  const path = request.url.split('?')[0] ?? '/';
  const allowed = new Set<string>();
  for (const route of routes.get(app) ?? []) {
    if (route.pattern.test(path)) for (const m of route.methods) allowed.add(m);
  }
  if (allowed.size > 0 && !allowed.has(request.method)) {
    return new AppError('method_not_allowed', {
      detail: `${request.method} is not allowed on ${path}.`,
      headers: { allow: [...allowed].sort().join(', ') },
    });
  }
  return new AppError('not_found', { detail: `Nothing at ${path}.` });
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../../config/config.ts';
import type { Database } from '../db/index.ts';
import { sendProblem } from '../http/error-handler.ts';
import { AppError } from '../http/problems.ts';

/** The instruments other modules feed; one registry per app so test apps never collide. */
export interface Metrics {
  registry: Registry;
  rateLimitRejections: Counter<'policy'>;
  rateLimitStoreFallbacks: Counter;
  jobOutcomes: Counter<'queue' | 'outcome'>;
}

export function createMetrics(db: Database): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dashtam_' });
  new Gauge({
    name: 'dashtam_db_pool_connections',
    help: 'Database connections by state (PGlite is always one connection)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const stats = db.stats();
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });
  return {
    registry,
    rateLimitRejections: new Counter({
      name: 'dashtam_rate_limit_rejections_total',
      help: 'Requests answered 429 by a rate-limit policy',
      labelNames: ['policy'],
      registers: [registry],
    }),
    rateLimitStoreFallbacks: new Counter({
      name: 'dashtam_rate_limit_store_fallbacks_total',
      help: 'Rate-limit checks served by the per-process fallback because Redis was unreachable',
      registers: [registry],
    }),
    jobOutcomes: new Counter({
      name: 'dashtam_job_outcomes_total',
      help: 'Background jobs finished, by queue and outcome',
      labelNames: ['queue', 'outcome'],
      registers: [registry],
    }),
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Request timing by route pattern (never the raw URL: ids would explode cardinality) and
 * GET /metrics in Prometheus text. Production without METRICS_TOKEN hides the route (404).
 */
export function registerMetrics(app: FastifyInstance, config: Config, metrics: Metrics): void {
  const duration = new Histogram({
    name: 'dashtam_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern, method and status',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics.registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
    duration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  const token = config.metricsToken;
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (token === undefined && config.env === 'production') {
      return sendProblem(request, reply, new AppError('not_found', { detail: 'Nothing at /metrics.' }));
    }
    if (token !== undefined) {
      const header = request.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!sameSecret(given, token)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        return sendProblem(
          request,
          reply,
          new AppError('unauthorized', { detail: 'A valid metrics token is required.' }),
        );
      }
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

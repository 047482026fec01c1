import { context, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import type { Database, Queryable } from './db/index.ts';
import { redactUrl } from './logging.ts';

let contextManagerReady = false;

/** One tracer per app; `undefined` when OTEL_EXPORTER_OTLP_ENDPOINT is unset (no overhead). */
export interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

export function startTracing(endpoint: string | undefined, serviceName = 'dashtam'): Tracing | undefined {
  if (!endpoint) return undefined;
  if (!contextManagerReady) {
    // Async context lets a database span find the HTTP request span it runs under.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerReady = true;
  }
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 500 })],
  });
  return { tracer: provider.getTracer('dashtam'), shutdown: () => provider.shutdown() };
}

/** The trace id of the active span, for logs and audit events. */
export function currentTraceId(): string | undefined {
  const id = trace.getActiveSpan()?.spanContext().traceId;
  return id && id !== '00000000000000000000000000000000' ? id : undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    span?: Span;
  }
}

/** A server span per request, active for the whole request so nested spans join its trace. */
export function registerRequestTracing(app: FastifyInstance, tracing: Tracing): void {
  app.addHook('onRequest', (request, reply, done) => {
    const span = tracing.tracer.startSpan(`${request.method}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'url.path': redactUrl(request.url).split('?')[0] },
    });
    request.span = span;
    request.log = request.log.child({ trace_id: span.spanContext().traceId });
    reply.log = request.log;
    context.with(trace.setSpan(context.active(), span), done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const span = request.span;
    if (span) {
      const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
      span.updateName(`${request.method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}

/** Runs `fn` in a child span named `name`, recording failure. */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Record<string, string>,
  fn: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

function tracedQueryable<T extends Queryable>(inner: T, tracer: Tracer, system: string): T {
  return {
    ...inner,
    query: (sql: string, params?: readonly unknown[]) =>
      inSpan(tracer, 'db.query', { 'db.system.name': system, 'db.query.text': sql.slice(0, 500) }, () =>
        inner.query(sql, params),
      ),
    exec: (sql: string) => inSpan(tracer, 'db.exec', { 'db.system.name': system }, () => inner.exec(sql)),
  } as T;
}

/** Wraps a database so every statement is a span (SQL text only: values are parameters). */
export function traceDatabase(db: Database, tracer: Tracer): Database {
  const system = db.kind === 'pglite' ? 'pglite' : 'postgresql';
  return {
    ...tracedQueryable(db, tracer, system),
    kind: db.kind,
    stats: () => db.stats(),
    close: () => db.close(),
    transaction: (fn) => db.transaction((tx) => fn(tracedQueryable(tx, tracer, system))),
  };
}

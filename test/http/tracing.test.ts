import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { buildTestApp } from '../helpers/app.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** A local OTLP/HTTP receiver: collects the JSON trace exports the app sends. */
async function otlpReceiver(t: import('node:test').TestContext) {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans };
}

test('with OTEL_EXPORTER_OTLP_ENDPOINT, request and database spans arrive at the collector in one trace', async (t) => {
  const receiver = await otlpReceiver(t);
  const lines: Record<string, unknown>[] = [];
  const app = await buildTestApp(t, {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, LOG_LEVEL: 'info' },
    logStream: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  const res = await app.inject({ url: '/ready', headers: { 'x-request-id': 'traced-1' } });
  assert.equal(res.statusCode, 200);
  await app.close(); // flushes the exporter

  const http = receiver.spans.find((s) => s.name === 'GET /ready');
  assert.ok(http, `spans: ${receiver.spans.map((s) => s.name).join(', ')}`);
  const db = receiver.spans.filter((s) => s.name === 'db.query' && s.traceId === http.traceId);
  assert.ok(db.length >= 1, 'the readiness query is a child span of the request');
  assert.ok(db.every((s) => s.parentSpanId === http.spanId));
  const requestLines = lines.filter((l) => l.request_id === 'traced-1' && l.msg === 'request completed');
  assert.equal(requestLines[0]?.trace_id, http.traceId, 'log lines carry the trace id');
});

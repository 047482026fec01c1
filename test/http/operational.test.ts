import assert from 'node:assert/strict';
import { type AddressInfo, connect } from 'node:net';
import { test } from 'node:test';
import { Migrator } from '../../src/platform/db/migrator.ts';
import { buildTestApp, testDatabase } from '../helpers/app.ts';
import { assertProblem } from '../helpers/problem.ts';

test('GET /health answers ok with request id, timing and security headers', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.inject({ url: '/health' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'ok' });
  assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.match(String(res.headers['x-process-time']), /^\d+(\.\d+)?$/);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['referrer-policy'], 'no-referrer');
  assert.match(String(res.headers['content-security-policy']), /default-src 'none'.*frame-ancestors 'none'/);
  assert.equal(res.headers['strict-transport-security'], undefined, 'no HSTS outside production');
});

test('a valid incoming X-Request-Id is echoed; an invalid one is replaced', async (t) => {
  const app = await buildTestApp(t);
  const echoed = await app.inject({ url: '/health', headers: { 'x-request-id': 'client-abc_1.2' } });
  assert.equal(echoed.headers['x-request-id'], 'client-abc_1.2');
  for (const bad of ['has space', 'x'.repeat(129), 'semi;colon']) {
    const res = await app.inject({ url: '/nowhere', headers: { 'x-request-id': bad } });
    assert.notEqual(res.headers['x-request-id'], bad);
    assert.equal(res.json().request_id, res.headers['x-request-id']);
  }
});

test('GET /ready is 200 when the database answers and migrations are current, 503 otherwise', async (t) => {
  const app = await buildTestApp(t);
  const ready = await app.inject({ url: '/ready' });
  assert.equal(ready.statusCode, 200);
  assert.equal(ready.json().migrations, 'current');

  const migrator = new Migrator(await testDatabase());
  await migrator.down(1);
  t.after(() => migrator.up());
  const pending = await app.inject({ url: '/ready' });
  const body = assertProblem(pending, 503, 'not_ready');
  assert.match(String(body.detail), /pending/);
});

test('GET /openapi.json is OpenAPI 3.1 and documents the routes', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.inject({ url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  const doc = res.json();
  assert.equal(doc.openapi, '3.1.0');
  assert.ok(doc.paths['/health']);
  assert.ok(doc.paths['/ready'].get.responses['503']);
  assert.ok(doc.components.schemas.Problem);
});

test('GET /docs serves the interactive docs with its own CSP', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.inject({ url: '/docs' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/html/);
  const csp = String(res.headers['content-security-policy']);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /upgrade-insecure-requests|validator\.swagger\.io/);
  const initializer = await app.inject({ url: '/docs/static/swagger-initializer.js' });
  assert.equal(initializer.statusCode, 200);
});

test('/problems/{code} explains each code; unknown codes are 404', async (t) => {
  const app = await buildTestApp(t);
  const page = await app.inject({ url: '/problems/validation_failed' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  assert.match(page.body, /Validation failed/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'; style-src 'sha256-/);
  const index = await app.inject({ url: '/problems' });
  assert.match(index.body, /\/problems\/rate_limited/);
  assertProblem(await app.inject({ url: '/problems/made_up' }), 404, 'not_found');
});

test('responses under /api/v1 are never cached; operational ones may be', async (t) => {
  const app = await buildTestApp(t);
  assert.equal((await app.inject({ url: '/api/v1/anything' })).headers['cache-control'], 'no-store');
  assert.equal((await app.inject({ url: '/health' })).headers['cache-control'], undefined);
});

test('production adds HSTS', async (t) => {
  const app = await buildTestApp(t, {
    env: { DASHTAM_ENV: 'production', PUBLIC_BASE_URL: 'https://dashtam.example.com' },
  });
  const res = await app.inject({ url: '/health' });
  assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/);
});

test('CORS answers only origins in CORS_ORIGINS', async (t) => {
  const app = await buildTestApp(t, { env: { CORS_ORIGINS: 'https://app.example.com' } });
  const allowed = await app.inject({
    method: 'OPTIONS',
    url: '/api/v1/users',
    headers: {
      origin: 'https://app.example.com',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,idempotency-key',
    },
  });
  assert.equal(allowed.statusCode, 204);
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.match(String(allowed.headers['access-control-allow-headers']), /idempotency-key/);
  const simple = await app.inject({ url: '/health', headers: { origin: 'https://app.example.com' } });
  assert.match(String(simple.headers['access-control-expose-headers']), /x-request-id/);

  const denied = await app.inject({ url: '/health', headers: { origin: 'https://evil.example.com' } });
  assert.equal(denied.headers['access-control-allow-origin'], undefined);
});

test('request logs carry request_id on every line and never the secrets', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const app = await buildTestApp(t, {
    env: { LOG_LEVEL: 'info' },
    logStream: { write: (line: string) => lines.push(JSON.parse(line)) },
    routes: (a) =>
      a.post('/api/v1/test/log', async (request) => {
        request.log.info({ body: request.body, headers: request.headers }, 'got it');
        return { ok: true };
      }),
  });
  await app.inject({
    method: 'POST',
    url: '/api/v1/test/log?token=abc123&page=2',
    headers: { authorization: 'Bearer eyJsecret', cookie: 'sid=s3cr3t', 'x-request-id': 'log-test-1' },
    payload: { email: 'a@example.com', password: 'hunter2hunter2', nested: { refresh_token: 'rt-xyz' } },
  });
  assert.ok(lines.length >= 3);
  for (const line of lines) assert.equal(line.request_id, 'log-test-1');
  const text = JSON.stringify(lines);
  for (const secret of ['eyJsecret', 's3cr3t', 'hunter2hunter2', 'rt-xyz', 'abc123']) {
    assert.ok(!text.includes(secret), `${secret} leaked into the logs`);
  }
  assert.ok(text.includes('a@example.com'), 'non-secret fields are kept');
  assert.ok(text.includes('page=2'));
});

test('slow requests are logged as warnings', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const app = await buildTestApp(t, {
    env: { LOG_LEVEL: 'warn', SLOW_REQUEST_MS: '20' },
    logStream: { write: (line: string) => lines.push(JSON.parse(line)) },
    routes: (a) =>
      a.get('/api/v1/test/slow', async () => new Promise((r) => setTimeout(() => r({ ok: 1 }), 40))),
  });
  await app.inject({ url: '/api/v1/test/slow' });
  await app.inject({ url: '/health' });
  const slow = lines.filter((l) => l.msg === 'slow request');
  assert.equal(slow.length, 1);
  assert.equal(slow[0]?.level, 'warn');
  assert.equal(slow[0]?.url, '/api/v1/test/slow');
});

test('a client that never finishes its request is cut off after REQUEST_TIMEOUT_MS (slow-loris)', async (t) => {
  const app = await buildTestApp(t, { env: { REQUEST_TIMEOUT_MS: '1000' } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk;
  });
  const started = Date.now();
  await new Promise((resolve) => socket.once('close', resolve));
  assert.match(received, /^HTTP\/1\.1 408/);
  assert.ok(Date.now() - started < 15_000, 'closed well before the default 30 s check interval');
});

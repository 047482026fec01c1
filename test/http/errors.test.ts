import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../src/platform/http/problems.ts';
import { buildTestApp } from '../helpers/app.ts';
import { assertProblem } from '../helpers/problem.ts';

const ItemBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 20 }),
    quantity: Type.Integer({ minimum: 1 }),
    credentials: Type.Optional(Type.Object({ key_id: Type.String() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

function testRoutes(app: FastifyInstance) {
  app.post('/api/v1/test/items', { schema: { body: ItemBody } }, async (request, reply) =>
    reply.code(201).send(request.body),
  );
  app.get<{ Params: { id: string } }>(
    '/api/v1/test/items/:id',
    { schema: { params: Type.Object({ id: Type.String({ format: 'uuid' }) }) } },
    async (request) => ({ id: request.params.id }),
  );
  app.get<{ Querystring: { limit: number } }>(
    '/api/v1/test/list',
    {
      schema: {
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) }),
      },
    },
    async (request) => ({ limit: request.query.limit }),
  );
  app.get('/api/v1/test/boom', async () => {
    throw new Error('connection to 10.0.0.5 failed: SELECT password FROM users');
  });
  app.get('/api/v1/test/conflict', async () => {
    throw new AppError('sync_too_soon', { retryAfter: 42, detail: 'Synced a moment ago.' });
  });
}

const json = { 'content-type': 'application/json' };

test('unknown route → 404 not_found problem', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  const res = await app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
  assertProblem(res, 404, 'not_found');
  assert.equal(res.headers['cache-control'], 'no-store');
});

test('wrong method on a known path → 405 with Allow', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  const res = await app.inject({ method: 'DELETE', url: '/api/v1/test/items' });
  assertProblem(res, 405, 'method_not_allowed');
  assert.equal(res.headers.allow, 'POST');
  const withId = await app.inject({
    method: 'POST',
    url: '/api/v1/test/items/01934b6e-0000-7000-8000-000000000000',
  });
  assertProblem(withId, 405, 'method_not_allowed');
  assert.match(String(withId.headers.allow), /GET/);
});

test('malformed JSON → 400 malformed_request', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/test/items',
    headers: json,
    payload: '{"name": ',
  });
  assertProblem(res, 400, 'malformed_request');
  const proto = await app.inject({
    method: 'POST',
    url: '/api/v1/test/items',
    headers: json,
    payload: '{"name":"a","quantity":1,"__proto__":{"admin":true}}',
  });
  assertProblem(proto, 400, 'malformed_request');
});

test('validation → 422 with errors[] naming each field, unknown properties included', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/test/items',
    headers: json,
    payload: { quantity: '3', extra: true, credentials: { key_id: 5, other: 'x' } },
  });
  const body = assertProblem(res, 422, 'validation_failed');
  const errors = body.errors as { field: string; code: string; message: string }[];
  const pairs = errors.map((e) => `${e.field}:${e.code}`).sort();
  assert.deepEqual(pairs, [
    'credentials.key_id:invalid_type',
    'credentials.other:unknown_field',
    'extra:unknown_field',
    'name:required',
    'quantity:invalid_type',
  ]);
  for (const e of errors) assert.equal(typeof e.message, 'string');
});

test('a JSON body that is not an object → 422', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/test/items',
    headers: json,
    payload: '[1,2]',
  });
  const body = assertProblem(res, 422, 'validation_failed');
  assert.equal((body.errors as { field: string }[])[0]?.field, 'body');
});

test('valid body passes through unchanged', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/test/items',
    headers: json,
    payload: { name: 'x', quantity: 2, credentials: { key_id: 'k' } },
  });
  assert.equal(res.statusCode, 201);
  assert.deepEqual(res.json(), { name: 'x', quantity: 2, credentials: { key_id: 'k' } });
});

test('query parameters are coerced; malformed ones → 422 naming the parameter', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  assert.deepEqual((await app.inject({ url: '/api/v1/test/list?limit=7' })).json(), { limit: 7 });
  assert.deepEqual((await app.inject({ url: '/api/v1/test/list' })).json(), { limit: 50 });
  assert.deepEqual((await app.inject({ url: '/api/v1/test/list?unknown=1' })).json(), { limit: 50 });
  for (const bad of ['0', '501', 'abc', '1.5']) {
    const res = await app.inject({ url: `/api/v1/test/list?limit=${bad}` });
    const body = assertProblem(res, 422, 'validation_failed');
    assert.equal((body.errors as { field: string }[])[0]?.field, 'limit');
  }
});

test('a path id that is not a UUID → 404, never 422', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  assertProblem(await app.inject({ url: '/api/v1/test/items/not-a-uuid' }), 404, 'not_found');
  assertProblem(await app.inject({ url: "/api/v1/test/items/1'%20OR%201=1" }), 404, 'not_found');
  const ok = await app.inject({ url: '/api/v1/test/items/01934b6e-0000-7000-8000-000000000000' });
  assert.equal(ok.statusCode, 200);
});

test('body over the limit → 413 payload_too_large', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10), quantity: 1 });
  const res = await app.inject({ method: 'POST', url: '/api/v1/test/items', headers: json, payload: big });
  assertProblem(res, 413, 'payload_too_large');
});

test('wrong content type → 415 unsupported_media_type', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/test/items',
      headers: { 'content-type': type },
      payload: 'name=x',
    });
    assertProblem(res, 415, 'unsupported_media_type');
  }
});

test('unhandled error → 500 internal_error without internals, logged with request_id', async (t) => {
  const lines: string[] = [];
  const app = await buildTestApp(t, {
    routes: testRoutes,
    env: { LOG_LEVEL: 'info' },
    logStream: { write: (line: string) => lines.push(line) },
  });
  const res = await app.inject({ url: '/api/v1/test/boom', headers: { 'x-request-id': 'trace-500' } });
  const body = assertProblem(res, 500, 'internal_error');
  assert.equal(body.request_id, 'trace-500');
  assert.doesNotMatch(res.body, /10\.0\.0\.5|SELECT|password|stack|at /);
  const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'unhandled error');
  assert.ok(logged, 'the error is logged');
  assert.equal(logged.request_id, 'trace-500');
});

test('typed errors carry retry_after and Retry-After', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  const res = await app.inject({ url: '/api/v1/test/conflict' });
  const body = assertProblem(res, 429, 'sync_too_soon');
  assert.equal(body.retry_after, 42);
  assert.equal(res.headers['retry-after'], '42');
  assert.equal(body.detail, 'Synced a moment ago.');
});

test('malformed JSON sent to an unknown route is still a 404', async (t) => {
  const app = await buildTestApp(t, { routes: testRoutes });
  const res = await app.inject({ method: 'POST', url: '/api/v1/nowhere', headers: json, payload: '{bad' });
  assertProblem(res, 404, 'not_found');
});

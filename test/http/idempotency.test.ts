import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { IdempotencyRepository } from '../../src/platform/http/idempotency/idempotency.repository.ts';
import { buildTestApp, testDatabase } from '../helpers/app.ts';
import { assertProblem } from '../helpers/problem.ts';

interface Counters {
  created: number;
}

function routes(counters: Counters) {
  return (app: FastifyInstance) => {
    // Stands in for the identity module: a verified user, when the test names one.
    app.addHook('onRequest', async (request) => {
      const user = request.headers['x-test-user'];
      if (typeof user === 'string') request.auth = { userId: user, sessionId: 's', roles: [] };
    });
    const body = Type.Object(
      { name: Type.String(), tags: Type.Optional(Type.Array(Type.String())) },
      { additionalProperties: false },
    );
    app.post<{ Body: { name: string }; Querystring: { delay?: number; fail?: boolean } }>(
      '/api/v1/test/widgets',
      {
        schema: {
          body,
          querystring: Type.Object({
            delay: Type.Optional(Type.Integer()),
            fail: Type.Optional(Type.Boolean()),
          }),
        },
      },
      async (request, reply) => {
        if (request.query.delay) await new Promise((r) => setTimeout(r, request.query.delay));
        if (request.query.fail) return reply.code(409).send({ failed: true });
        counters.created++;
        return reply.code(201).send({ id: randomUUID(), name: request.body.name });
      },
    );
    app.post('/api/v1/test/tokens', { config: { idempotency: false } }, async (_request, reply) => {
      counters.created++;
      return reply.code(201).send({ secret: randomUUID() });
    });
    app.delete('/api/v1/test/widgets/:id', async (_request, reply) => {
      counters.created++;
      return reply.code(204).send();
    });
  };
}

async function setup(t: import('node:test').TestContext) {
  const counters: Counters = { created: 0 };
  const app = await buildTestApp(t, { routes: routes(counters) });
  const post = (
    key: string | undefined,
    payload: unknown,
    extra: { url?: string; headers?: Record<string, string>; remoteAddress?: string } = {},
  ) =>
    app.inject({
      method: 'POST',
      url: extra.url ?? '/api/v1/test/widgets',
      headers: {
        'content-type': 'application/json',
        ...(key === undefined ? {} : { 'idempotency-key': key }),
        ...extra.headers,
      },
      payload: JSON.stringify(payload),
      ...(extra.remoteAddress ? { remoteAddress: extra.remoteAddress } : {}),
    });
  return { app, counters, post };
}

test('a repeated request replays the stored response without running again', async (t) => {
  const { counters, post } = await setup(t);
  const key = randomUUID();
  const first = await post(key, { name: 'a', tags: ['x'] });
  assert.equal(first.statusCode, 201);
  assert.equal(first.headers['idempotent-replayed'], undefined);
  const again = await post(key, { tags: ['x'], name: 'a' }); // same body, other key order
  assert.equal(again.statusCode, 201);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.deepEqual(again.json(), first.json());
  assert.match(String(again.headers['content-type']), /application\/json/);
  assert.notEqual(again.headers['x-request-id'], first.headers['x-request-id']);
  assert.equal(counters.created, 1);
});

test('the same key with another body → 422 idempotency_key_mismatch', async (t) => {
  const { counters, post } = await setup(t);
  const key = randomUUID();
  await post(key, { name: 'a' });
  assertProblem(await post(key, { name: 'b' }), 422, 'idempotency_key_mismatch');
  assertProblem(
    await post(key, { name: 'a' }, { url: '/api/v1/test/widgets?fail=true' }),
    422,
    'idempotency_key_mismatch',
  );
  assert.equal(counters.created, 1);
});

test('keys must be 1 to 255 characters', async (t) => {
  const { counters, post } = await setup(t);
  assert.equal((await post('k'.repeat(255), { name: 'a' })).statusCode, 201);
  const long = assertProblem(await post('k'.repeat(256), { name: 'a' }), 422, 'invalid_idempotency_key');
  assert.equal((long.errors as { field: string }[])[0]?.field, 'Idempotency-Key');
  assertProblem(await post('', { name: 'a' }), 422, 'invalid_idempotency_key');
  assert.equal(counters.created, 1);
});

test('an error response releases the key for a retry', async (t) => {
  const { counters, post } = await setup(t);
  const key = randomUUID();
  const failed = await post(key, { name: 'a' }, { url: '/api/v1/test/widgets?fail=true' });
  assert.equal(failed.statusCode, 409);
  const retried = await post(key, { name: 'a' }, { url: '/api/v1/test/widgets?fail=true' });
  assert.equal(retried.statusCode, 409);
  assert.equal(retried.headers['idempotent-replayed'], undefined);
  const db = await testDatabase();
  const { rows } = await db.query(
    'SELECT 1 FROM idempotency_keys WHERE fingerprint IS NOT NULL AND state = $1',
    ['in_progress'],
  );
  assert.equal(rows.length, 0);
  assert.equal(counters.created, 0);
});

test('a duplicate while the first is still running → 409 idempotency_in_progress', async (t) => {
  const { counters, post } = await setup(t);
  const key = randomUUID();
  const slow = post(key, { name: 'a' }, { url: '/api/v1/test/widgets?delay=300' });
  await new Promise((r) => setTimeout(r, 100));
  const dup = await post(key, { name: 'a' }, { url: '/api/v1/test/widgets?delay=300' });
  const body = assertProblem(dup, 409, 'idempotency_in_progress');
  assert.equal(body.retryable, true);
  assert.equal((await slow).statusCode, 201);
  assert.equal(counters.created, 1);
});

test('50 concurrent identical requests create exactly one resource', async (t) => {
  const { counters, post } = await setup(t);
  const key = randomUUID();
  const results = await Promise.all(
    Array.from({ length: 50 }, () => post(key, { name: 'race' }, { url: '/api/v1/test/widgets?delay=20' })),
  );
  assert.equal(counters.created, 1);
  const statuses = results.map((r) => r.statusCode);
  assert.ok(
    statuses.every((s) => s === 201 || s === 409),
    statuses.join(),
  );
  const created = results.filter((r) => r.statusCode === 201);
  assert.ok(created.length >= 1);
  assert.equal(new Set(created.map((r) => r.json().id)).size, 1, 'every 201 is the same resource');
});

test('keys are scoped to the user (else the client IP), the method and the path', async (t) => {
  const { counters, post } = await setup(t);
  const key = randomUUID();
  await post(key, { name: 'a' }, { headers: { 'x-test-user': 'user-1' } });
  const otherUser = await post(key, { name: 'a' }, { headers: { 'x-test-user': 'user-2' } });
  assert.equal(otherUser.headers['idempotent-replayed'], undefined);
  const anonymous = await post(key, { name: 'a' }, { remoteAddress: '10.1.1.1' });
  assert.equal(anonymous.headers['idempotent-replayed'], undefined);
  const otherIp = await post(key, { name: 'a' }, { remoteAddress: '10.1.1.2' });
  assert.equal(otherIp.headers['idempotent-replayed'], undefined);
  const sameIp = await post(key, { name: 'a' }, { remoteAddress: '10.1.1.1' });
  assert.equal(sameIp.headers['idempotent-replayed'], 'true');
  assert.equal(counters.created, 4);
});

test('DELETE replays its 204; GET ignores the header', async (t) => {
  const { app, counters } = await setup(t);
  const key = randomUUID();
  const del = () =>
    app.inject({ method: 'DELETE', url: '/api/v1/test/widgets/w1', headers: { 'idempotency-key': key } });
  assert.equal((await del()).statusCode, 204);
  const again = await del();
  assert.equal(again.statusCode, 204);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(counters.created, 1);
  const get = await app.inject({ url: '/health', headers: { 'idempotency-key': 'k'.repeat(300) } });
  assert.equal(get.statusCode, 200);
});

test('routes that issue credentials ignore the header', async (t) => {
  const { counters, post } = await setup(t);
  const key = randomUUID();
  const a = await post(key, {}, { url: '/api/v1/test/tokens' });
  const b = await post(key, {}, { url: '/api/v1/test/tokens' });
  assert.notDeepEqual(a.json(), b.json());
  assert.equal(b.headers['idempotent-replayed'], undefined);
  assert.equal(counters.created, 2);
});

test('stored responses are encrypted at rest; keys and IPs are stored hashed', async (t) => {
  const { post } = await setup(t);
  const key = `visible-key-${randomUUID()}`;
  const res = await post(key, { name: 'plaintext-marker' }, { remoteAddress: '10.9.9.9' });
  const db = await testDatabase();
  const { rows } = await db.query<{ owner_id: string; key_hash: string; response: Uint8Array }>(
    'SELECT owner_id, key_hash, response FROM idempotency_keys',
  );
  const dump = JSON.stringify(
    rows.map((r) => ({ ...r, response: Buffer.from(r.response).toString('latin1') })),
  );
  assert.ok(!dump.includes('plaintext-marker'));
  assert.ok(!dump.includes(res.json().id));
  assert.ok(!dump.includes(key));
  assert.ok(!dump.includes('10.9.9.9'));
});

test('after 24 h a key is forgotten and may be used again; purge removes expired records', async (t) => {
  const { counters, post } = await setup(t);
  const key = randomUUID();
  await post(key, { name: 'old' });
  const db = await testDatabase();
  await db.query("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'");
  const fresh = await post(key, { name: 'new' });
  assert.equal(fresh.statusCode, 201);
  assert.equal(fresh.json().name, 'new');
  assert.equal(counters.created, 2);
  await db.query("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'");
  assert.ok((await new IdempotencyRepository(db).purgeExpired()) >= 1);
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*) AS n FROM idempotency_keys WHERE expires_at <= now()',
  );
  assert.equal(rows[0]!.n, 0);
});

test('a key left in progress by a crashed request may be claimed again after IDEMPOTENCY_ABANDONED_SECONDS', async (t) => {
  const { counters, post } = await setup(t);
  const key = randomUUID();
  const slow = post(key, { name: 'a' }, { url: '/api/v1/test/widgets?delay=300' });
  await new Promise((r) => setTimeout(r, 100));
  const db = await testDatabase();
  // Simulate a process that died holding the key two minutes ago.
  await db.query(
    "UPDATE idempotency_keys SET created_at = now() - interval '10 minutes' WHERE state = 'in_progress'",
  );
  const takeover = await post(key, { name: 'a' });
  assert.equal(takeover.statusCode, 201);
  assert.equal(takeover.headers['idempotent-replayed'], undefined);
  await slow;
  assert.equal(counters.created, 2);
});

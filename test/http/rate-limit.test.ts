import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Type } from 'typebox';
import { buildTestApp } from '../helpers/app.ts';
import { assertProblem } from '../helpers/problem.ts';
import { freePort } from '../helpers/process.ts';

/**
 * The same behaviour runs on every store available: memory always, Redis when TEST_REDIS_URL is
 * set (CI starts one with scripts/ci-redis.sh). Each app gets its own key prefix, so runs sharing
 * one Redis never see each other's counters.
 */
const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
const STORES = [
  { name: 'memory', env: {} as Record<string, string> },
  ...(TEST_REDIS_URL ? [{ name: 'redis', env: { REDIS_URL: TEST_REDIS_URL } }] : []),
];

const uniquePrefix = () => `t${randomUUID()}:`;

/** Test routes; `hits` counts handler runs, so a rejected request provably never reached one. */
function testRoutes(hits: { count: number }) {
  return (app: FastifyInstance) => {
    // Stands in for the identity module: a verified user, set in onRequest.
    app.addHook('onRequest', async (request) => {
      const user = request.headers['x-test-user'];
      if (typeof user === 'string') request.auth = { userId: user, sessionId: 's1', roles: [] };
    });
    const handler = async () => {
      hits.count += 1;
      return { ok: true };
    };
    app.get('/api/v1/test/items', handler);
    app.post('/api/v1/test/items', handler);
    app.get('/api/v1/test/ip', async (request) => ({ ip: request.ip }));
    app.get('/api/v1/test/sync', { config: { rateLimit: 'sync' } }, handler);
    app.get('/api/v1/test/both', { config: { rateLimit: ['read', 'sync'] } }, handler);
    app.get('/api/v1/test/open', { config: { rateLimit: false } }, handler);
    app.get('/outside', handler);
    app.post(
      '/api/v1/test/resets',
      {
        schema: {
          body: Type.Object({ email: Type.String({ minLength: 3 }) }, { additionalProperties: false }),
        },
        config: {
          // Per email (the body is parsed, not yet validated) and per IP.
          rateLimit: [
            {
              policy: 'password_reset',
              key: (request) => {
                const email = (request.body as { email?: unknown } | undefined)?.email;
                return typeof email === 'string' ? `email:${email.trim().toLowerCase()}` : undefined;
              },
            },
            'password_reset',
          ],
        },
      },
      handler,
    );
  };
}

async function appWith(
  t: TestContext,
  store: (typeof STORES)[number],
  env: Record<string, string>,
  extra: { prefix?: string; logStream?: Writable } = {},
) {
  const hits = { count: 0 };
  const app = await buildTestApp(t, {
    env: { ...store.env, REDIS_KEY_PREFIX: extra.prefix ?? uniquePrefix(), ...env },
    routes: testRoutes(hits),
    logStream: extra.logStream,
  });
  return { app, hits };
}

function limitHeaders(res: LightMyRequestResponse) {
  return {
    limit: res.headers['ratelimit-limit'],
    remaining: res.headers['ratelimit-remaining'],
    policy: res.headers['ratelimit-policy'],
  };
}

function resetOf(res: LightMyRequestResponse): number {
  const reset = String(res.headers['ratelimit-reset']);
  assert.match(reset, /^\d+$/);
  return Number(reset);
}

for (const store of STORES) {
  describe(`rate limits (${store.name} store)`, () => {
    test('a route is limited with exact RateLimit headers, then 429 without running the handler', async (t) => {
      const { app, hits } = await appWith(t, store, { RATE_LIMITS: 'read=3/60' });
      for (const remaining of ['2', '1', '0']) {
        const res = await app.inject({ url: '/api/v1/test/items' });
        assert.equal(res.statusCode, 200);
        assert.deepEqual(limitHeaders(res), { limit: '3', remaining, policy: '3;w=60' });
        const reset = resetOf(res);
        assert.ok(reset >= 58 && reset <= 60, `reset ${reset}`);
      }
      const res = await app.inject({ url: '/api/v1/test/items' });
      const body = assertProblem(res, 429, 'rate_limited');
      assert.ok(Number.isInteger(body.retry_after) && (body.retry_after as number) >= 1);
      assert.ok((body.retry_after as number) <= 60);
      assert.equal(res.headers['retry-after'], String(body.retry_after));
      assert.deepEqual(limitHeaders(res), { limit: '3', remaining: '0', policy: '3;w=60' });
      assert.ok(resetOf(res) >= 1);
      assert.equal(hits.count, 3, 'the rejected request never reached the handler');
      assert.deepEqual(app.rateLimits.stats, { store: store.name, redisFallbacks: 0, redisOutages: 0 });
    });

    test('unverified clients are keyed by IP: one IP exhausted, another still served', async (t) => {
      const { app } = await appWith(t, store, { RATE_LIMITS: 'read=2/60' });
      const from = (remoteAddress: string) => app.inject({ url: '/api/v1/test/items', remoteAddress });
      assert.equal((await from('10.0.0.1')).statusCode, 200);
      assert.equal((await from('10.0.0.1')).statusCode, 200);
      assertProblem(await from('10.0.0.1'), 429, 'rate_limited');
      const other = await from('10.0.0.2');
      assert.equal(other.statusCode, 200);
      assert.equal(other.headers['ratelimit-remaining'], '1');
    });

    test('verified users are keyed by user id, never by IP or an unverified token', async (t) => {
      const { app } = await appWith(t, store, { RATE_LIMITS: 'read=2/60' });
      const get = (remoteAddress: string, headers: Record<string, string>) =>
        app.inject({ url: '/api/v1/test/items', remoteAddress, headers });
      // One user from two addresses shares a bucket.
      assert.equal((await get('10.1.0.1', { 'x-test-user': 'alice' })).statusCode, 200);
      assert.equal((await get('10.1.0.2', { 'x-test-user': 'alice' })).statusCode, 200);
      assertProblem(await get('10.1.0.3', { 'x-test-user': 'alice' }), 429, 'rate_limited');
      // Another user on alice's address is unaffected, and so is that address itself.
      assert.equal((await get('10.1.0.1', { 'x-test-user': 'bob' })).headers['ratelimit-remaining'], '1');
      // Bearer tokens nobody verified do not buy a fresh bucket: the IP is the key.
      const forged = (sub: string) => ({ authorization: `Bearer fake.${sub}.sig` });
      assert.equal((await get('10.1.0.9', forged('x'))).statusCode, 200);
      assert.equal((await get('10.1.0.9', forged('y'))).statusCode, 200);
      assertProblem(await get('10.1.0.9', forged('z')), 429, 'rate_limited');
    });

    test('defaults: read for GET, write for POST, unknown /api/v1 paths too; declared policies win', async (t) => {
      const { app } = await appWith(t, store, { RATE_LIMITS: 'read=5/60,write=2/60,sync=3/30' });
      const post = await app.inject({ method: 'POST', url: '/api/v1/test/items' });
      assert.deepEqual(limitHeaders(post), { limit: '2', remaining: '1', policy: '2;w=60' });
      const get = await app.inject({ url: '/api/v1/test/items' });
      assert.deepEqual(limitHeaders(get), { limit: '5', remaining: '4', policy: '5;w=60' });
      const missing = await app.inject({ url: '/api/v1/test/nothing-here' });
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(limitHeaders(missing), { limit: '5', remaining: '3', policy: '5;w=60' });
      const sync = await app.inject({ url: '/api/v1/test/sync' });
      assert.deepEqual(limitHeaders(sync), { limit: '3', remaining: '2', policy: '3;w=30' });
      assert.ok(resetOf(sync) <= 30);
      // Two policies: the headers report the one with the least left (sync: 1 vs read: 2).
      const both = await app.inject({ url: '/api/v1/test/both' });
      assert.deepEqual(limitHeaders(both), { limit: '3', remaining: '1', policy: '3;w=30' });
    });

    test('operational routes, docs, preflights and opted-out routes are never limited', async (t) => {
      const { app } = await appWith(t, store, { RATE_LIMITS: 'read=1/60,write=1/60' });
      const urls = [
        '/health',
        '/ready',
        '/metrics',
        '/openapi.json',
        '/docs',
        '/problems',
        '/problems/rate_limited',
      ];
      for (let round = 0; round < 3; round += 1) {
        for (const url of [...urls, '/api/v1/test/open', '/outside']) {
          const res = await app.inject({ url });
          assert.notEqual(res.statusCode, 429, url);
          assert.equal(res.headers['ratelimit-limit'], undefined, url);
        }
        const preflight = await app.inject({
          method: 'OPTIONS',
          url: '/api/v1/test/items',
          headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
        });
        assert.notEqual(preflight.statusCode, 429);
        assert.equal(preflight.headers['ratelimit-limit'], undefined);
      }
      const first = await app.inject({ url: '/api/v1/test/items' });
      assert.equal(first.statusCode, 200, 'none of the above consumed the read budget');
      assert.equal(first.headers['ratelimit-remaining'], '0');
    });

    test('a custom key limits per email and the plain policy per IP, before body validation', async (t) => {
      const { app, hits } = await appWith(t, store, { RATE_LIMITS: 'password_reset=2/3600' });
      const reset = (remoteAddress: string, payload: unknown) =>
        app.inject({ method: 'POST', url: '/api/v1/test/resets', remoteAddress, payload: payload as object });
      // One email from three addresses: the third is refused (case and spaces do not help).
      const first = await reset('10.2.0.1', { email: 'Ann@example.com' });
      assert.equal(first.statusCode, 200);
      assert.deepEqual(limitHeaders(first), { limit: '2', remaining: '1', policy: '2;w=3600' });
      assert.ok(resetOf(first) > 3500);
      assert.equal((await reset('10.2.0.2', { email: 'ann@example.com' })).statusCode, 200);
      const third = await reset('10.2.0.3', { email: ' ANN@example.com ' });
      assertProblem(third, 429, 'rate_limited');
      assert.ok(Number(third.headers['retry-after']) > 3500);
      // Many emails from one address: the per-IP limit refuses the third, even with an invalid body.
      assert.equal((await reset('10.2.0.9', { email: 'b@example.com' })).statusCode, 200);
      assert.equal((await reset('10.2.0.9', { email: 'c@example.com', extra: 1 })).statusCode, 422);
      assertProblem(await reset('10.2.0.9', { email: 'd@example.com', extra: 1 }), 429, 'rate_limited');
      assert.equal(hits.count, 3);
    });

    test('X-Forwarded-For is ignored by default', async (t) => {
      const { app } = await appWith(t, store, { RATE_LIMITS: 'read=2/60' });
      const via = (forwarded: string) =>
        app.inject({
          url: '/api/v1/test/ip',
          remoteAddress: '127.0.0.1',
          headers: { 'x-forwarded-for': forwarded },
        });
      const res = await via('203.0.113.1');
      assert.equal(res.json().ip, '127.0.0.1');
      assert.equal((await via('203.0.113.2')).statusCode, 200);
      assertProblem(await via('203.0.113.3'), 429, 'rate_limited');
    });

    test('X-Forwarded-For is honoured with TRUST_PROXY=true', async (t) => {
      const { app } = await appWith(t, store, { RATE_LIMITS: 'read=2/60', TRUST_PROXY: 'true' });
      const via = (forwarded: string, remoteAddress = '127.0.0.1') =>
        app.inject({ url: '/api/v1/test/ip', remoteAddress, headers: { 'x-forwarded-for': forwarded } });
      const res = await via('203.0.113.1');
      assert.equal(res.json().ip, '203.0.113.1');
      assert.equal((await via('203.0.113.1', '127.0.0.2')).headers['ratelimit-remaining'], '0');
      assertProblem(await via('203.0.113.1'), 429, 'rate_limited');
      assert.equal((await via('203.0.113.2')).statusCode, 200, 'each forwarded client has its own bucket');
    });

    test(`two instances ${store.name === 'redis' ? 'share' : 'keep separate'} their counters`, async (t) => {
      const prefix = uniquePrefix();
      const env = { RATE_LIMITS: 'read=2/60' };
      const one = (await appWith(t, store, env, { prefix })).app;
      const two = (await appWith(t, store, env, { prefix })).app;
      assert.equal((await one.inject({ url: '/api/v1/test/items' })).statusCode, 200);
      assert.equal((await one.inject({ url: '/api/v1/test/items' })).statusCode, 200);
      const onTwo = await two.inject({ url: '/api/v1/test/items' });
      if (store.name === 'redis') assertProblem(onTwo, 429, 'rate_limited');
      else assert.equal(onTwo.headers['ratelimit-remaining'], '1');
    });
  });
}

test('with Redis unreachable, limits fall back to per-process memory and the outage is logged once', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const port = await freePort(); // nothing listens there
  const { app, hits } = await appWith(
    t,
    { name: 'redis', env: { REDIS_URL: `redis://127.0.0.1:${port}` } },
    { RATE_LIMITS: 'read=3/60', LOG_LEVEL: 'warn' },
    { logStream },
  );
  const statuses: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const res = await app.inject({ url: '/api/v1/test/items' });
    statuses.push(res.statusCode);
    if (i === 0) assert.deepEqual(limitHeaders(res), { limit: '3', remaining: '2', policy: '3;w=60' });
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  assert.equal(hits.count, 3);
  const fallbacks = lines.filter((l) => String(l.msg).startsWith('rate limits fell back'));
  assert.equal(fallbacks.length, 1, 'one error per outage, not one per request');
  assert.equal(fallbacks[0]!.level, 'error');
  assert.deepEqual(app.rateLimits.stats, { store: 'redis', redisFallbacks: 5, redisOutages: 1 });
  const metrics = await app.inject({ url: '/metrics' });
  assert.match(metrics.body, /^dashtam_rate_limit_store_fallbacks_total 5$/m);
  assert.match(metrics.body, /^dashtam_rate_limit_rejections_total\{policy="read"\} 2$/m);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccessTokens, SESSION_CACHE_TTL_MS } from '../../src/modules/identity/index.ts';
import { buildTestApp, testDatabase } from '../helpers/app.ts';
import { randomKey } from '../helpers/config.ts';
import { bearer, signIn, verifiedUser } from '../helpers/identity.ts';
import { assertProblem } from '../helpers/problem.ts';

function refresh(app: Awaited<ReturnType<typeof buildTestApp>>, token: string) {
  return app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { refresh_token: token } });
}

function me(app: Awaited<ReturnType<typeof buildTestApp>>, token: string) {
  return app.inject({ url: '/api/v1/users/me', headers: bearer(token) });
}

function keyMaterial(text: string) {
  const [kid, key] = text.split(':') as [string, string];
  return { kid, key: Buffer.from(key, 'base64') };
}

test('protected routes: 401 unauthorized with WWW-Authenticate for missing, malformed and forged tokens', async (t) => {
  const app = await buildTestApp(t);
  const missing = await app.inject({ url: '/api/v1/users/me' });
  assertProblem(missing, 401, 'unauthorized');
  assert.equal(missing.headers['www-authenticate'], 'Bearer');
  for (const header of ['Bearer nonsense', 'Basic dXNlcjpwdw==', 'Bearer a.b.c']) {
    const res = await app.inject({ url: '/api/v1/users/me', headers: { authorization: header } });
    assertProblem(res, 401, 'unauthorized');
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
  }
  // Signed with a key the server does not know, under its own kid and under ours.
  const user = await verifiedUser(app, 'forged');
  const pair = await signIn(app, user.email);
  const claims = { sub: user.id, sid: pair.session_id, ver: 1, roles: ['admin'] };
  const options = {
    ttlSeconds: 900,
    issuer: 'http://127.0.0.1:3000',
    audience: 'dashtam-api',
    verifyKeys: [],
  };
  for (const kid of ['other', 'test-jwt']) {
    const forged = new AccessTokens({ ...options, signingKey: keyMaterial(randomKey(kid)) }).issue(claims);
    assertProblem(await me(app, forged), 401, 'unauthorized');
  }
  // Authentication comes before body validation.
  const patch = await app.inject({ method: 'PATCH', url: '/api/v1/users/me', payload: { nope: 1 } });
  assertProblem(patch, 401, 'unauthorized');
});

test('expired access tokens and keys from JWT_VERIFY_KEYS', async (t) => {
  const oldKey = randomKey('old-jwt');
  const app = await buildTestApp(t, { env: { JWT_VERIFY_KEYS: oldKey } });
  const user = await verifiedUser(app, 'keys');
  const pair = await signIn(app, user.email);
  const options = { issuer: 'http://127.0.0.1:3000', audience: 'dashtam-api', verifyKeys: [] };
  const claims = { sub: user.id, sid: pair.session_id, ver: 1, roles: [] };
  const byOldKey = new AccessTokens({ ...options, ttlSeconds: 900, signingKey: keyMaterial(oldKey) }).issue(
    claims,
  );
  assert.equal((await me(app, byOldKey)).statusCode, 200);
  const shortLived = new AccessTokens({ ...options, ttlSeconds: 1, signingKey: keyMaterial(oldKey) }).issue(
    claims,
  );
  await new Promise((resolve) => setTimeout(resolve, 2100));
  assertProblem(await me(app, shortLived), 401, 'unauthorized');
});

test('logout revokes the session: its access and refresh tokens fail at once', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'logout');
  const pair = await signIn(app, user.email);
  const other = await signIn(app, user.email);
  assert.equal((await me(app, pair.access_token)).statusCode, 200);
  const out = await app.inject({
    method: 'DELETE',
    url: '/api/v1/sessions/current',
    headers: bearer(pair.access_token),
  });
  assert.equal(out.statusCode, 204);
  assertProblem(await me(app, pair.access_token), 401, 'unauthorized');
  assertProblem(await refresh(app, pair.refresh_token), 401, 'invalid_refresh_token');
  assert.equal((await me(app, other.access_token)).statusCode, 200);
  const db = await testDatabase();
  const audit = await db.query(
    `SELECT 1 FROM audit_events WHERE action = 'session.revoked' AND resource_id = $1`,
    [pair.session_id],
  );
  assert.equal(audit.rows.length, 1);
});

test('refresh rotates the token; a new pair for the same session', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'rotate');
  const pair = await signIn(app, user.email);
  const res = await refresh(app, pair.refresh_token);
  assert.equal(res.statusCode, 201, res.body);
  const next = res.json() as Record<string, unknown>;
  assert.equal(next.session_id, pair.session_id);
  assert.equal(next.token_type, 'Bearer');
  assert.notEqual(next.refresh_token, pair.refresh_token);
  assert.equal((await me(app, String(next.access_token))).statusCode, 200);
  const again = await refresh(app, String(next.refresh_token));
  assert.equal(again.statusCode, 201);
  assertProblem(await refresh(app, 'not-a-token-at-all'), 401, 'invalid_refresh_token');
  assertProblem(
    await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { refresh_token: 'x', extra: 1 } }),
    422,
    'validation_failed',
  );
});

test('reuse within the leeway: invalid_refresh_token, session untouched', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'leeway');
  const pair = await signIn(app, user.email);
  const next = (await refresh(app, pair.refresh_token)).json() as {
    access_token: string;
    refresh_token: string;
  };
  assertProblem(await refresh(app, pair.refresh_token), 401, 'invalid_refresh_token');
  assert.equal((await me(app, next.access_token)).statusCode, 200);
  assert.equal((await refresh(app, next.refresh_token)).statusCode, 201);
});

test('reuse after the leeway: refresh_token_reused and the whole session is revoked', async (t) => {
  const app = await buildTestApp(t, { env: { REFRESH_REUSE_LEEWAY_SECONDS: '1' } });
  const user = await verifiedUser(app, 'reuse');
  const pair = await signIn(app, user.email);
  const next = (await refresh(app, pair.refresh_token)).json() as {
    access_token: string;
    refresh_token: string;
  };
  const db = await testDatabase();
  await db.query(
    `UPDATE refresh_tokens SET rotated_at = rotated_at - interval '5 seconds' WHERE session_id = $1 AND rotated_at IS NOT NULL`,
    [pair.session_id],
  );
  assertProblem(await refresh(app, pair.refresh_token), 401, 'refresh_token_reused');
  assertProblem(await me(app, next.access_token), 401, 'unauthorized');
  assertProblem(await refresh(app, next.refresh_token), 401, 'invalid_refresh_token');
  const audit = await db.query(
    `SELECT 1 FROM audit_events WHERE action = 'token.reused' AND resource_id = $1`,
    [pair.session_id],
  );
  assert.equal(audit.rows.length, 1);
});

test('two concurrent refreshes with one token: exactly one succeeds', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'race');
  for (let round = 0; round < 3; round++) {
    const pair = await signIn(app, user.email);
    const results = await Promise.all([refresh(app, pair.refresh_token), refresh(app, pair.refresh_token)]);
    const codes = results.map((r) => r.statusCode).sort();
    assert.deepEqual(codes, [201, 401]);
    const loser = results.find((r) => r.statusCode === 401)!;
    assertProblem(loser, 401, 'invalid_refresh_token');
    const winner = results.find((r) => r.statusCode === 201)!.json() as { access_token: string };
    assert.equal((await me(app, winner.access_token)).statusCode, 200);
  }
});

test('a stale token version or a disabled user stops the tokens', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'version');
  const pair = await signIn(app, user.email);
  assert.equal((await me(app, pair.access_token)).statusCode, 200); // now cached
  const db = await testDatabase();
  await db.query('UPDATE users SET min_token_version = min_token_version + 1 WHERE id = $1', [user.id]);
  assertProblem(await refresh(app, pair.refresh_token), 401, 'invalid_refresh_token');
  // A change made behind the server's back (here: SQL) reaches the access-token check within the
  // session cache's TTL, the safety net of explicit invalidation (ADR 0011).
  assert.equal((await me(app, pair.access_token)).statusCode, 200);
  await new Promise((resolve) => setTimeout(resolve, SESSION_CACHE_TTL_MS + 100));
  assertProblem(await me(app, pair.access_token), 401, 'unauthorized');

  const other = await verifiedUser(app, 'disabled');
  const otherPair = await signIn(app, other.email);
  await db.query('UPDATE users SET disabled_at = now() WHERE id = $1', [other.id]);
  assertProblem(await refresh(app, otherPair.refresh_token), 401, 'invalid_refresh_token');
});

test('refresh is rate limited per session', async (t) => {
  const app = await buildTestApp(t, { env: { RATE_LIMITS: 'refresh=2/60' } });
  const user = await verifiedUser(app, 'rl');
  const pair = await signIn(app, user.email);
  const first = (await refresh(app, pair.refresh_token)).json() as { refresh_token: string };
  const second = await refresh(app, first.refresh_token);
  assert.equal(second.statusCode, 201);
  // A new token of the same session: still that session's budget.
  assertProblem(
    await refresh(app, (second.json() as { refresh_token: string }).refresh_token),
    429,
    'rate_limited',
  );
  // Another session has its own.
  const otherPair = await signIn(app, user.email);
  assert.equal((await refresh(app, otherPair.refresh_token)).statusCode, 201);
});

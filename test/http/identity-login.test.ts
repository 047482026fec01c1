import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PasswordHasher } from '../../src/modules/identity/index.ts';
import { buildTestApp, testDatabase } from '../helpers/app.ts';
import {
  bearer,
  login,
  mailCount,
  PASSWORD,
  signIn,
  uniqueEmail,
  verifiedUser,
} from '../helpers/identity.ts';
import { assertProblem } from '../helpers/problem.ts';

/** A problem body without what differs per request. */
function stable(body: Record<string, unknown>): Record<string, unknown> {
  const { request_id: _r, timestamp: _t, ...rest } = body;
  return rest;
}

test('login returns a token pair and records the session', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'login');
  const res = await login(app, user.email.toUpperCase(), user.password);
  assert.equal(res.statusCode, 201, res.body);
  const pair = res.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(pair).sort(), [
    'access_token',
    'expires_in',
    'refresh_token',
    'session_id',
    'token_type',
  ]);
  assert.equal(pair.token_type, 'Bearer');
  assert.equal(pair.expires_in, 900);
  assert.match(String(pair.refresh_token), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(String(pair.access_token).split('.').length, 3);
  const header = JSON.parse(Buffer.from(String(pair.access_token).split('.')[0]!, 'base64url').toString());
  assert.deepEqual([header.alg, header.kid], ['HS256', 'test-jwt']);
  const claims = JSON.parse(Buffer.from(String(pair.access_token).split('.')[1]!, 'base64url').toString());
  assert.equal(claims.sub, user.id);
  assert.equal(claims.sid, pair.session_id);
  for (const claim of ['ver', 'roles', 'iat', 'exp', 'jti', 'iss', 'aud']) assert.ok(claim in claims, claim);
  assert.equal(claims.exp - claims.iat, 900);

  const db = await testDatabase();
  const { rows } = await db.query<{
    token_hash: Buffer;
    expires_at: Date;
    created_at: Date;
    user_agent: string;
  }>(
    `SELECT rt.token_hash, s.expires_at, s.created_at, s.user_agent
       FROM sessions s JOIN refresh_tokens rt ON rt.session_id = s.id WHERE s.id = $1`,
    [pair.session_id],
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.token_hash.length, 32, 'only the SHA-256 of the refresh token is stored');
  assert.equal(rows[0]!.user_agent, 'identity-test');
  const days = (rows[0]!.expires_at.getTime() - rows[0]!.created_at.getTime()) / 86_400_000;
  assert.ok(Math.abs(days - 30) < 0.01);
  const audit = await db.query(
    `SELECT 1 FROM audit_events WHERE action = 'session.created' AND resource_id = $1`,
    [pair.session_id],
  );
  assert.equal(audit.rows.length, 1);
  // Login ignores Idempotency-Key: every call is a new session.
  const again = await app.inject({
    method: 'POST',
    url: '/api/v1/sessions',
    payload: { email: user.email, password: user.password },
    headers: { 'idempotency-key': 'same' },
  });
  const twice = await app.inject({
    method: 'POST',
    url: '/api/v1/sessions',
    payload: { email: user.email, password: user.password },
    headers: { 'idempotency-key': 'same' },
  });
  assert.notEqual(again.json().session_id, twice.json().session_id);
  assert.equal(twice.headers['idempotent-replayed'], undefined);
});

test('unknown email and wrong password get the same 401 body', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'same401');
  const wrong = assertProblem(await login(app, user.email, `${user.password}!`), 401, 'invalid_credentials');
  const unknown = assertProblem(
    await login(app, uniqueEmail('ghost'), user.password),
    401,
    'invalid_credentials',
  );
  assert.deepEqual(stable(wrong), stable(unknown));
  const db = await testDatabase();
  const failures = await db.query(
    `SELECT 1 FROM audit_events WHERE action = 'session.created' AND outcome = 'failure' AND user_id = $1`,
    [user.id],
  );
  assert.equal(failures.rows.length, 1);
});

test('the 5th failure is still 401, then the email+IP pair gets 429 even with the right password', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'lock');
  const ip = '203.0.113.5';
  for (let i = 1; i <= 5; i++) {
    assertProblem(await login(app, user.email, `wrong password ${i}!`, ip), 401, 'invalid_credentials');
  }
  const locked = await login(app, user.email, user.password, ip);
  const body = assertProblem(locked, 429, 'too_many_attempts');
  const retryAfter = Number(locked.headers['retry-after']);
  assert.ok(retryAfter > 800 && retryAfter <= 900, `Retry-After ${retryAfter}`);
  assert.equal(body.retry_after, retryAfter);
  // Another IP is not locked out, and its success does not clear the locked pair.
  assert.equal((await login(app, user.email, user.password, '203.0.113.6')).statusCode, 201);
  assertProblem(await login(app, user.email, user.password, ip), 429, 'too_many_attempts');

  // Unknown emails lock out the same way.
  const ghost = uniqueEmail('ghost');
  for (let i = 0; i < 5; i++)
    assertProblem(await login(app, ghost, 'whatever-it-is', ip), 401, 'invalid_credentials');
  assertProblem(await login(app, ghost, 'whatever-it-is', ip), 429, 'too_many_attempts');
});

test('a successful login clears the pair’s failures', async (t) => {
  const app = await buildTestApp(t, { env: { LOGIN_MAX_FAILURES: '3' } });
  const user = await verifiedUser(app, 'clear');
  for (let i = 0; i < 2; i++)
    assertProblem(await login(app, user.email, 'not the password'), 401, 'invalid_credentials');
  assert.equal((await login(app, user.email, user.password)).statusCode, 201);
  for (let i = 0; i < 3; i++)
    assertProblem(await login(app, user.email, 'not the password'), 401, 'invalid_credentials');
  assertProblem(await login(app, user.email, user.password), 429, 'too_many_attempts');
});

test('distributed guessing: every IP is locked out after 10 × LOGIN_MAX_FAILURES, and the owner is told once', async (t) => {
  const app = await buildTestApp(t, { env: { LOGIN_MAX_FAILURES: '2' } });
  const user = await verifiedUser(app, 'spray');
  const mails = await mailCount(app, user.email);
  for (let i = 0; i < 20; i++) {
    // Two failures per IP: each pair stays at its own limit, never above.
    const ip = `198.51.100.${10 + Math.floor(i / 2)}`;
    assertProblem(await login(app, user.email, `guess ${i} wrong`, ip), 401, 'invalid_credentials');
    if (i === 18) {
      // Below the ceiling a fresh IP still signs in (and its success clears only its own pair).
      assert.equal((await login(app, user.email, user.password, '192.0.2.200')).statusCode, 201);
    }
  }
  const res = await login(app, user.email, user.password, '192.0.2.201');
  assertProblem(res, 429, 'too_many_attempts');
  assert.ok(Number(res.headers['retry-after']) > 0);
  assert.equal(await mailCount(app, user.email), mails + 1);
  await login(app, user.email, user.password, '192.0.2.202');
  assert.equal(await mailCount(app, user.email), mails + 1);
});

test('a disabled account answers 403 account_disabled only after a correct password', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'disabled');
  const db = await testDatabase();
  await db.query('UPDATE users SET disabled_at = now() WHERE id = $1', [user.id]);
  assertProblem(await login(app, user.email, 'the wrong password'), 401, 'invalid_credentials');
  assertProblem(await login(app, user.email, user.password), 403, 'account_disabled');
});

test('SESSION_CAP: the oldest session is evicted and its tokens stop working', async (t) => {
  const app = await buildTestApp(t, { env: { SESSION_CAP: '2' } });
  const user = await verifiedUser(app, 'cap');
  const first = await signIn(app, user.email);
  assert.equal(
    (await app.inject({ url: '/api/v1/users/me', headers: bearer(first.access_token) })).statusCode,
    200,
  );
  const second = await signIn(app, user.email);
  const third = await signIn(app, user.email);
  assertProblem(
    await app.inject({ url: '/api/v1/users/me', headers: bearer(first.access_token) }),
    401,
    'unauthorized',
  );
  const list = await app.inject({ url: '/api/v1/sessions', headers: bearer(third.access_token) });
  assert.deepEqual(
    (list.json() as { data: { id: string }[] }).data.map((s) => s.id),
    [third.session_id, second.session_id],
  );
});

test('a hash made with older parameters is upgraded at login', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'rehash');
  const weak = new PasswordHasher({ algorithm: 2, memoryCost: 8192, timeCost: 1, parallelism: 1 });
  const db = await testDatabase();
  await db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [user.id, await weak.hash(PASSWORD)]);
  await signIn(app, user.email);
  const { rows } = await db.query<{ password_hash: string }>(
    'SELECT password_hash FROM users WHERE id = $1',
    [user.id],
  );
  assert.match(rows[0]!.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  await signIn(app, user.email);
});

test('login is rate limited per IP', async (t) => {
  const app = await buildTestApp(t, { env: { RATE_LIMITS: 'login=1/60' } });
  await login(app, uniqueEmail('rl'), 'whatever password', '198.51.100.99');
  const res = await login(app, uniqueEmail('rl'), 'whatever password', '198.51.100.99');
  assertProblem(res, 429, 'rate_limited');
  assert.equal(res.headers['ratelimit-policy'], '1;w=60');
});

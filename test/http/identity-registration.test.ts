import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, testDatabase } from '../helpers/app.ts';
import { login, mailCount, mailedToken, PASSWORD, register, uniqueEmail } from '../helpers/identity.ts';
import { assertProblem } from '../helpers/problem.ts';

test('POST /users creates an unverified user and emails a verification link', async (t) => {
  const app = await buildTestApp(t, { env: { PUBLIC_BASE_URL: 'https://dashtam.example' } });
  const email = uniqueEmail('reg');
  const res = await register(app, { email, password: PASSWORD, name: 'Ada' });
  assert.equal(res.statusCode, 201, res.body);
  const user = res.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(user).sort(), [
    'created_at',
    'email',
    'email_verified',
    'id',
    'mfa_enabled',
    'name',
    'roles',
  ]);
  assert.equal(user.email, email);
  assert.equal(user.name, 'Ada');
  assert.equal(user.email_verified, false);
  assert.equal(user.mfa_enabled, false);
  assert.deepEqual(user.roles, []);
  assert.match(String(user.id), /^[0-9a-f]{8}-[0-9a-f]{4}-7/);

  const mailbox = (await app.inject({ url: `/api/v1/dev/mailbox?to=${email}` })).json() as {
    data: { text: string }[];
  };
  assert.match(mailbox.data[0]!.text, /https:\/\/dashtam\.example\/verify-email\?token=[A-Za-z0-9_-]{43}\b/);

  const db = await testDatabase();
  const { rows } = await db.query<{ password_hash: string }>(
    'SELECT password_hash FROM users WHERE id = $1',
    [user.id],
  );
  assert.match(rows[0]!.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  const audit = await db.query('SELECT 1 FROM audit_events WHERE action = $1 AND user_id = $2', [
    'user.registered',
    user.id,
  ]);
  assert.equal(audit.rows.length, 1);
});

test('an email is taken whatever its case', async (t) => {
  const app = await buildTestApp(t);
  const email = uniqueEmail('taken');
  assert.equal((await register(app, { email, password: PASSWORD })).statusCode, 201);
  assertProblem(await register(app, { email: email.toUpperCase(), password: PASSWORD }), 409, 'email_taken');
});

test('weak passwords are refused with weak_password on the password field', async (t) => {
  const app = await buildTestApp(t);
  for (const password of ['short-pass1', 'x'.repeat(129), 'qwerty123456', 'QWERTY123456', '1q2w3e4r5t6y']) {
    const body = assertProblem(
      await register(app, { email: uniqueEmail('weak'), password }),
      422,
      'weak_password',
    );
    assert.deepEqual(
      (body.errors as { field: string; code: string }[]).map((e) => [e.field, e.code]),
      [['password', 'weak_password']],
    );
  }
  // No composition rules: a long passphrase of lowercase words is fine; 128 characters is the edge.
  assert.equal(
    (await register(app, { email: uniqueEmail('ok'), password: 'a'.repeat(3) + 'b'.repeat(125) })).statusCode,
    201,
  );
});

test('registration validates the body', async (t) => {
  const app = await buildTestApp(t);
  assertProblem(await register(app, { email: 'not-an-email', password: PASSWORD }), 422, 'validation_failed');
  assertProblem(await register(app, { password: PASSWORD }), 422, 'validation_failed');
  const body = assertProblem(
    await register(app, { email: uniqueEmail('extra'), password: PASSWORD, admin: true }),
    422,
    'validation_failed',
  );
  assert.ok((body.errors as { code: string }[]).some((e) => e.code === 'unknown_field'));
});

test('email verification: once, with one answer for unknown, used and expired tokens', async (t) => {
  const app = await buildTestApp(t);
  const email = uniqueEmail('verify');
  await register(app, { email, password: PASSWORD });
  assertProblem(await login(app, email, PASSWORD), 403, 'email_not_verified');
  const token = await mailedToken(app, email);

  const verify = (payload: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/api/v1/email-verifications', payload });
  const unknown = assertProblem(await verify({ token: 'A'.repeat(43) }), 400, 'invalid_token');
  const ok = await verify({ token });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { verified: true });
  const used = assertProblem(await verify({ token }), 400, 'invalid_token');
  assert.equal(used.detail, unknown.detail);
  assert.equal((await login(app, email, PASSWORD)).statusCode, 201);

  // Expired: a second user whose token is moved past its 24 h.
  const late = uniqueEmail('late');
  await register(app, { email: late, password: PASSWORD });
  const lateToken = await mailedToken(app, late);
  const db = await testDatabase();
  await db.query(
    `UPDATE one_time_tokens SET expires_at = now() - interval '1 second'
      WHERE user_id = (SELECT id FROM users WHERE email = $1)`,
    [late],
  );
  const expired = assertProblem(await verify({ token: lateToken }), 400, 'invalid_token');
  assert.equal(expired.detail, unknown.detail);
  // The token route never replays: Idempotency-Key is ignored.
  const again = await app.inject({
    method: 'POST',
    url: '/api/v1/email-verifications',
    payload: { token },
    headers: { 'idempotency-key': 'k1' },
  });
  assertProblem(again, 400, 'invalid_token');
});

test('unverified login answers email_not_verified with user_action verify_email, only after a correct password', async (t) => {
  const app = await buildTestApp(t);
  const email = uniqueEmail('unverified');
  await register(app, { email, password: PASSWORD });
  const body = assertProblem(await login(app, email, PASSWORD), 403, 'email_not_verified');
  assert.equal(body.user_action, 'verify_email');
  assertProblem(await login(app, email, `${PASSWORD}x`), 401, 'invalid_credentials');
});

test('verification requests: 202 for every email, a new link only for unverified accounts', async (t) => {
  const app = await buildTestApp(t);
  const email = uniqueEmail('resend');
  await register(app, { email, password: PASSWORD });
  const request = (address: string) =>
    app.inject({ method: 'POST', url: '/api/v1/email-verification-requests', payload: { email: address } });

  const unknownEmail = uniqueEmail('nobody');
  const a = await request(unknownEmail);
  const b = await request(email.toUpperCase());
  assert.equal(a.statusCode, 202);
  assert.equal(b.statusCode, 202);
  assert.equal(a.body, b.body);
  assert.equal(await mailCount(app, unknownEmail), 0);
  assert.equal(await mailCount(app, email), 2);

  // The new link works; after verification no more links are sent.
  const token = await mailedToken(app, email);
  const ok = await app.inject({ method: 'POST', url: '/api/v1/email-verifications', payload: { token } });
  assert.equal(ok.statusCode, 200);
  assert.equal((await request(email)).statusCode, 202);
  assert.equal(await mailCount(app, email), 2);
});

test('a verified email listed in ADMIN_EMAILS holds admin', async (t) => {
  const email = uniqueEmail('boss');
  const app = await buildTestApp(t, { env: { ADMIN_EMAILS: email.toUpperCase() } });
  const res = await register(app, { email, password: PASSWORD });
  assert.deepEqual((res.json() as { roles: string[] }).roles, []);
  const token = await mailedToken(app, email);
  await app.inject({ method: 'POST', url: '/api/v1/email-verifications', payload: { token } });
  const pair = (await login(app, email, PASSWORD)).json() as { access_token: string };
  const me = await app.inject({
    url: '/api/v1/users/me',
    headers: { authorization: `Bearer ${pair.access_token}` },
  });
  assert.deepEqual((me.json() as { roles: string[] }).roles, ['admin']);
});

test('register is rate limited per IP', async (t) => {
  const app = await buildTestApp(t, { env: { RATE_LIMITS: 'register=2/60' } });
  assert.equal(
    (await register(app, { email: uniqueEmail('rl'), password: PASSWORD }, '198.51.100.7')).statusCode,
    201,
  );
  assert.equal(
    (await register(app, { email: uniqueEmail('rl'), password: PASSWORD }, '198.51.100.7')).statusCode,
    201,
  );
  const res = await register(app, { email: uniqueEmail('rl'), password: PASSWORD }, '198.51.100.7');
  assertProblem(res, 429, 'rate_limited');
  assert.ok(Number(res.headers['retry-after']) > 0);
});

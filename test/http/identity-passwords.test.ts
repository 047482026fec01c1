import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildTestApp, testDatabase } from '../helpers/app.ts';
import {
  bearer,
  login,
  mailCount,
  mailedToken,
  PASSWORD,
  register,
  signIn,
  uniqueEmail,
  verifiedUser,
} from '../helpers/identity.ts';
import { assertProblem } from '../helpers/problem.ts';

const NEW_PASSWORD = 'a brand new passphrase 77';

async function latestMail(app: FastifyInstance, email: string): Promise<{ subject: string; text: string }> {
  const res = await app.inject({ url: `/api/v1/dev/mailbox?to=${encodeURIComponent(email)}` });
  const { data } = res.json() as { data: { subject: string; text: string }[] };
  assert.ok(data[0], `no mail to ${email}`);
  return data[0];
}

async function auditCount(action: string, userId: string, outcome = 'success'): Promise<number> {
  const db = await testDatabase();
  const { rows } = await db.query(
    'SELECT 1 FROM audit_events WHERE action = $1 AND user_id = $2 AND outcome = $3',
    [action, userId, outcome],
  );
  return rows.length;
}

function me(app: FastifyInstance, token: string) {
  return app.inject({ url: '/api/v1/users/me', headers: bearer(token) });
}

function changePassword(app: FastifyInstance, token: string, body: Record<string, unknown>) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/users/me/password',
    headers: bearer(token),
    payload: body,
  });
}

test('POST /users/me/password changes the password and signs out every other session', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'pwchange');
  const current = await signIn(app, user.email);
  const other = await signIn(app, user.email, PASSWORD, '192.0.2.50');
  assert.equal((await me(app, other.access_token)).statusCode, 200);

  const res = await changePassword(app, current.access_token, {
    current_password: PASSWORD,
    new_password: NEW_PASSWORD,
  });
  assert.equal(res.statusCode, 204, res.body);
  assert.equal(res.body, '');
  assert.equal((await me(app, current.access_token)).statusCode, 200);
  assertProblem(await me(app, other.access_token), 401, 'unauthorized');
  const refreshed = await app.inject({
    method: 'POST',
    url: '/api/v1/tokens',
    payload: { refresh_token: other.refresh_token },
  });
  assertProblem(refreshed, 401, 'invalid_refresh_token');

  assertProblem(await login(app, user.email, PASSWORD), 401, 'invalid_credentials');
  assert.equal((await login(app, user.email, NEW_PASSWORD)).statusCode, 201);
  assert.match((await latestMail(app, user.email)).subject, /password was changed/);
  assert.equal(await auditCount('user.password_changed', user.id), 1);
});

test('POST /users/me/password: 401 invalid_credentials for a wrong current password, 422 for a weak one', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'pwchange-bad');
  const pair = await signIn(app, user.email);
  assertProblem(
    await changePassword(app, pair.access_token, {
      current_password: 'not my password!',
      new_password: NEW_PASSWORD,
    }),
    401,
    'invalid_credentials',
  );
  assert.equal(await auditCount('user.password_changed', user.id, 'failure'), 1);
  const weak = assertProblem(
    await changePassword(app, pair.access_token, { current_password: PASSWORD, new_password: 'short' }),
    422,
    'weak_password',
  );
  assert.equal((weak.errors as { field: string }[])[0]!.field, 'new_password');
  assertProblem(
    await changePassword(app, pair.access_token, {
      current_password: PASSWORD,
      new_password: 'password1234',
    }),
    422,
    'weak_password',
  );
  assertProblem(
    await changePassword(app, pair.access_token, { current_password: PASSWORD }),
    422,
    'validation_failed',
  );
  assertProblem(
    await app.inject({ method: 'POST', url: '/api/v1/users/me/password', payload: {} }),
    401,
    'unauthorized',
  );
  assert.equal((await login(app, user.email, PASSWORD)).statusCode, 201);
});

function requestReset(app: FastifyInstance, email: string, ip = '192.0.2.1') {
  return app.inject({
    method: 'POST',
    url: '/api/v1/password-reset-requests',
    payload: { email },
    remoteAddress: ip,
  });
}

function reset(app: FastifyInstance, token: string, newPassword = NEW_PASSWORD) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/password-resets',
    payload: { token, new_password: newPassword },
  });
}

test('password reset: 202 for every email, a 15-minute single-use link, every session revoked', async (t) => {
  const app = await buildTestApp(t, { env: { PUBLIC_BASE_URL: 'https://dashtam.example' } });
  const user = await verifiedUser(app, 'reset');
  const pair = await signIn(app, user.email);

  const unknown = uniqueEmail('nobody');
  const none = await requestReset(app, unknown);
  assert.equal(none.statusCode, 202);
  assert.deepEqual(none.json(), {});
  assert.equal(await mailCount(app, unknown), 0);

  const res = await requestReset(app, user.email.toUpperCase());
  assert.equal(res.statusCode, 202);
  assert.deepEqual(res.json(), {});
  const mail = await latestMail(app, user.email);
  assert.match(mail.text, /https:\/\/dashtam\.example\/reset-password\?token=[A-Za-z0-9_-]{43}\b/);
  assert.match(mail.text, /15 minutes/);
  const token = await mailedToken(app, user.email);

  const db = await testDatabase();
  const { rows } = await db.query<{ seconds: number }>(
    `SELECT EXTRACT(EPOCH FROM expires_at - created_at)::float8 AS seconds FROM one_time_tokens
      WHERE user_id = $1 AND purpose = 'password_reset'`,
    [user.id],
  );
  assert.equal(rows.length, 1);
  assert.equal(Math.round(rows[0]!.seconds), 900);

  // A weak password does not consume the token.
  assertProblem(await reset(app, token, 'short'), 422, 'weak_password');
  const ok = await reset(app, token);
  assert.equal(ok.statusCode, 204, ok.body);
  assertProblem(await me(app, pair.access_token), 401, 'unauthorized');
  assertProblem(await reset(app, token, 'yet another passphrase 9'), 400, 'invalid_token');
  assertProblem(await login(app, user.email, PASSWORD), 401, 'invalid_credentials');
  assert.equal((await login(app, user.email, NEW_PASSWORD)).statusCode, 201);
  assert.equal(await auditCount('user.password_reset', user.id), 1);
  assert.equal(await auditCount('user.password_reset_requested', user.id), 1);
});

test('password reset: a newer request retires older links; unknown and expired tokens are one answer', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'reset-old');
  await requestReset(app, user.email);
  const first = await mailedToken(app, user.email);
  await requestReset(app, user.email);
  const second = await mailedToken(app, user.email);
  assert.notEqual(first, second);
  assertProblem(await reset(app, first), 400, 'invalid_token');
  assertProblem(await reset(app, 'no-such-token'), 400, 'invalid_token');

  const db = await testDatabase();
  await db.query(
    `UPDATE one_time_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND purpose = 'password_reset'`,
    [user.id],
  );
  assertProblem(await reset(app, second), 400, 'invalid_token');
  assertProblem(
    await app.inject({ method: 'POST', url: '/api/v1/password-resets', payload: { token: second } }),
    422,
    'validation_failed',
  );
});

test('password_reset is limited per email and per IP (3 per hour), known and unknown emails alike', async (t) => {
  const app = await buildTestApp(t, {
    env: { RATE_LIMITS: 'register=1000/60,login=1000/60,password_reset=3/3600' },
  });
  const email = uniqueEmail('limited');
  for (let i = 0; i < 3; i++)
    assert.equal((await requestReset(app, email, `198.51.100.${i + 1}`)).statusCode, 202);
  const perEmail = assertProblem(await requestReset(app, email, '198.51.100.9'), 429, 'rate_limited');
  assert.ok(perEmail);
  const limited = await requestReset(app, email.toUpperCase(), '198.51.100.10');
  assert.equal(limited.statusCode, 429);
  assert.ok(Number(limited.headers['retry-after']) > 0);
  assert.equal(limited.headers['ratelimit-policy'], '3;w=3600');

  for (let i = 0; i < 3; i++)
    assert.equal((await requestReset(app, uniqueEmail('ip'), '203.0.113.7')).statusCode, 202);
  assertProblem(await requestReset(app, uniqueEmail('ip'), '203.0.113.7'), 429, 'rate_limited');
});

test('POST /users/me/email: the address changes once the new one is confirmed', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'change');
  const pair = await signIn(app, user.email);
  const newEmail = uniqueEmail('changed');

  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/users/me/email',
    headers: bearer(pair.access_token),
    payload: { new_email: newEmail, password: PASSWORD },
  });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(((await me(app, pair.access_token)).json() as { email: string }).email, user.email);
  const token = await mailedToken(app, newEmail);
  assert.match((await latestMail(app, newEmail)).subject, /new email address/);

  const confirmed = await app.inject({
    method: 'POST',
    url: '/api/v1/email-verifications',
    payload: { token },
  });
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  assert.deepEqual(confirmed.json(), { verified: true });
  const after = (await me(app, pair.access_token)).json() as { email: string; email_verified: boolean };
  assert.equal(after.email, newEmail);
  assert.equal(after.email_verified, true);
  assertProblem(
    await app.inject({ method: 'POST', url: '/api/v1/email-verifications', payload: { token } }),
    400,
    'invalid_token',
  );
  assertProblem(await login(app, user.email, PASSWORD), 401, 'invalid_credentials');
  assert.equal((await login(app, newEmail, PASSWORD)).statusCode, 201);
  assert.equal(await auditCount('user.email_change_requested', user.id), 1);
  assert.equal(await auditCount('user.email_changed', user.id), 1);
});

test('POST /users/me/email: 401 wrong password, 409 email_taken now or by confirmation time', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'change-bad');
  const other = await verifiedUser(app, 'change-other');
  const pair = await signIn(app, user.email);
  const post = (payload: Record<string, unknown>) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/users/me/email',
      headers: bearer(pair.access_token),
      payload,
    });

  assertProblem(
    await post({ new_email: uniqueEmail('x'), password: 'not my password!' }),
    401,
    'invalid_credentials',
  );
  assertProblem(await post({ new_email: other.email.toUpperCase(), password: PASSWORD }), 409, 'email_taken');
  assertProblem(await post({ new_email: 'not-an-email', password: PASSWORD }), 422, 'validation_failed');

  const wanted = uniqueEmail('race');
  assert.equal((await post({ new_email: wanted, password: PASSWORD })).statusCode, 202);
  const token = await mailedToken(app, wanted);
  assert.equal((await register(app, { email: wanted, password: PASSWORD })).statusCode, 201);
  assertProblem(
    await app.inject({ method: 'POST', url: '/api/v1/email-verifications', payload: { token } }),
    409,
    'email_taken',
  );
  assert.equal(((await me(app, pair.access_token)).json() as { email: string }).email, user.email);
});

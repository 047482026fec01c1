import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { base32Decode, hotp, totpStep } from '../../src/modules/identity/identity.totp.ts';
import { buildTestApp, testDatabase } from '../helpers/app.ts';
import { bearer, login, PASSWORD, signIn, verifiedUser } from '../helpers/identity.ts';
import { assertProblem } from '../helpers/problem.ts';

/** The code of the current step plus `offset` (within the ±1 window when offset is -1, 0 or 1). */
function code(secret: Buffer, offset = 0): string {
  return hotp(secret, totpStep(Date.now() / 1000) + offset);
}

function enroll(app: FastifyInstance, token: string) {
  return app.inject({ method: 'POST', url: '/api/v1/users/me/mfa/totp', headers: bearer(token) });
}

function confirm(app: FastifyInstance, token: string, totpCode: string) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/users/me/mfa/totp/confirmations',
    headers: bearer(token),
    payload: { totp_code: totpCode },
  });
}

function mfaLogin(app: FastifyInstance, email: string, totpCode?: string, password = PASSWORD) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/sessions',
    payload: totpCode === undefined ? { email, password } : { email, password, totp_code: totpCode },
    remoteAddress: '192.0.2.77',
  });
}

async function mfaFailures(userId: string): Promise<number> {
  const db = await testDatabase();
  const { rows } = await db.query(
    `SELECT 1 FROM audit_events WHERE action = 'session.created' AND outcome = 'failure' AND user_id = $1`,
    [userId],
  );
  return rows.length;
}

/** A verified user with MFA on: their access token, secret and recovery codes. */
async function mfaUser(app: FastifyInstance, prefix: string) {
  const user = await verifiedUser(app, prefix);
  const pair = await signIn(app, user.email);
  const started = await enroll(app, pair.access_token);
  assert.equal(started.statusCode, 201, started.body);
  const secret = base32Decode((started.json() as { secret: string }).secret);
  // The previous step's code: a step boundary passing later cannot make a spent code valid again.
  const usedStep = totpStep(Date.now() / 1000) - 1;
  const confirmed = await confirm(app, pair.access_token, hotp(secret, usedStep));
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  const { recovery_codes } = confirmed.json() as { recovery_codes: string[] };
  return { ...user, pair, secret, usedStep, recoveryCodes: recovery_codes };
}

test('TOTP enrolment: a pending secret, confirmed with a current code, 10 recovery codes; GET /users/me shows it', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'mfa-enroll');
  const pair = await signIn(app, user.email);

  const first = await enroll(app, pair.access_token);
  assert.equal(first.statusCode, 201, first.body);
  const body = first.json() as { secret: string; otpauth_uri: string };
  assert.deepEqual(Object.keys(body).sort(), ['otpauth_uri', 'secret']);
  assert.match(body.secret, /^[A-Z2-7]{32}$/);
  const uri = new URL(body.otpauth_uri);
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.searchParams.get('secret'), body.secret);
  assert.equal(uri.searchParams.get('issuer'), 'Dashtam');
  assert.ok(decodeURIComponent(uri.pathname).includes(user.email));

  // Pending: not on yet, and a new enrolment replaces the secret.
  assert.equal(
    (await app.inject({ url: '/api/v1/users/me', headers: bearer(pair.access_token) })).json().mfa_enabled,
    false,
  );
  assert.equal((await login(app, user.email, PASSWORD)).statusCode, 201);
  const second = (await enroll(app, pair.access_token)).json() as { secret: string };
  assert.notEqual(second.secret, body.secret);
  const secret = base32Decode(second.secret);
  assertProblem(
    await confirm(app, pair.access_token, code(base32Decode(body.secret))),
    400,
    'invalid_mfa_code',
  );
  assertProblem(await confirm(app, pair.access_token, code(secret, 3)), 400, 'invalid_mfa_code');

  const confirmed = await confirm(app, pair.access_token, code(secret));
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  const codes = (confirmed.json() as { recovery_codes: string[] }).recovery_codes;
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  const me = (await app.inject({ url: '/api/v1/users/me', headers: bearer(pair.access_token) })).json();
  assert.equal(me.mfa_enabled, true);
  assertProblem(await enroll(app, pair.access_token), 409, 'mfa_already_enabled');
  assertProblem(await confirm(app, pair.access_token, code(secret, 1)), 409, 'mfa_already_enabled');

  const db = await testDatabase();
  const stored = await db.query<{ secret_ciphertext: Uint8Array }>(
    'SELECT secret_ciphertext FROM user_totp WHERE user_id = $1',
    [user.id],
  );
  assert.ok(!Buffer.from(stored.rows[0]!.secret_ciphertext).includes(secret));
  const hashes = await db.query<{ code_hash: Uint8Array }>(
    'SELECT code_hash FROM recovery_codes WHERE user_id = $1',
    [user.id],
  );
  assert.equal(hashes.rows.length, 10);
  for (const row of hashes.rows)
    assert.ok(!codes.some((c) => Buffer.from(row.code_hash).toString().includes(c)));
  const audit = await db.query(
    `SELECT action FROM audit_events WHERE user_id = $1 AND action LIKE 'mfa.%' ORDER BY seq`,
    [user.id],
  );
  assert.deepEqual(
    audit.rows.map((r) => (r as { action: string }).action),
    ['mfa.totp_enrollment_started', 'mfa.totp_enrollment_started', 'mfa.totp_enabled'],
  );
  assertProblem(await enroll(app, 'not-a-token'), 401, 'unauthorized');
});

test('login with MFA: mfa_required (not a failure), invalid_mfa_code (a failure), each code once', async (t) => {
  const app = await buildTestApp(t);
  const user = await mfaUser(app, 'mfa-login');
  const before = await mfaFailures(user.id);

  assertProblem(await mfaLogin(app, user.email), 401, 'mfa_required');
  assert.equal(await mfaFailures(user.id), before);
  // A wrong password stays invalid_credentials: the second factor is asked only after it.
  assertProblem(
    await mfaLogin(app, user.email, code(user.secret), 'wrong password!!'),
    401,
    'invalid_credentials',
  );
  const wrong = code(user.secret, 5);
  assertProblem(await mfaLogin(app, user.email, wrong), 401, 'invalid_mfa_code');
  assert.equal(await mfaFailures(user.id), before + 2);

  // The step used at confirmation is spent; a newer one works once.
  assertProblem(await mfaLogin(app, user.email, hotp(user.secret, user.usedStep)), 401, 'invalid_mfa_code');
  const current = hotp(user.secret, user.usedStep + 2);
  const ok = await mfaLogin(app, user.email, current);
  assert.equal(ok.statusCode, 201, ok.body);
  assertProblem(await mfaLogin(app, user.email, current), 401, 'invalid_mfa_code');
});

test('login with MFA: an unused recovery code works once', async (t) => {
  const app = await buildTestApp(t);
  const user = await mfaUser(app, 'mfa-recovery');
  const [first, second] = user.recoveryCodes;
  const ok = await mfaLogin(app, user.email, first!.toUpperCase());
  assert.equal(ok.statusCode, 201, ok.body);
  assertProblem(await mfaLogin(app, user.email, first!), 401, 'invalid_mfa_code');
  assert.equal((await mfaLogin(app, user.email, second!.replace('-', ''))).statusCode, 201);
  assertProblem(await mfaLogin(app, user.email, 'aaaaa-bbbbb'), 401, 'invalid_mfa_code');
  const db = await testDatabase();
  const used = await db.query('SELECT 1 FROM recovery_codes WHERE user_id = $1 AND used_at IS NOT NULL', [
    user.id,
  ]);
  assert.equal(used.rows.length, 2);
  const audited = await db.query(
    `SELECT 1 FROM audit_events WHERE user_id = $1 AND action = 'mfa.recovery_code_used'`,
    [user.id],
  );
  assert.equal(audited.rows.length, 2);
});

test('invalid_mfa_code counts toward the login lockout', async (t) => {
  const app = await buildTestApp(t, { env: { LOGIN_MAX_FAILURES: '2' } });
  const user = await mfaUser(app, 'mfa-lockout');
  assertProblem(await mfaLogin(app, user.email), 401, 'mfa_required');
  assertProblem(await mfaLogin(app, user.email), 401, 'mfa_required');
  assertProblem(await mfaLogin(app, user.email, '000000'), 401, 'invalid_mfa_code');
  assertProblem(await mfaLogin(app, user.email, 'zzzzz-zzzzz'), 401, 'invalid_mfa_code');
  assertProblem(await mfaLogin(app, user.email, code(user.secret, 1)), 429, 'too_many_attempts');
});

test('DELETE /users/me/mfa/totp needs the password and a code; MFA is then off', async (t) => {
  const app = await buildTestApp(t);
  const user = await mfaUser(app, 'mfa-off');
  const remove = (payload: Record<string, unknown>) =>
    app.inject({
      method: 'DELETE',
      url: '/api/v1/users/me/mfa/totp',
      headers: bearer(user.pair.access_token),
      payload,
    });

  assertProblem(
    await remove({ password: 'wrong password!!', totp_code: code(user.secret) }),
    401,
    'invalid_credentials',
  );
  assertProblem(
    await remove({ password: PASSWORD, totp_code: hotp(user.secret, user.usedStep) }),
    401,
    'invalid_mfa_code',
  );
  assertProblem(await remove({ password: PASSWORD }), 422, 'validation_failed');
  const res = await remove({ password: PASSWORD, totp_code: hotp(user.secret, user.usedStep + 2) });
  assert.equal(res.statusCode, 204, res.body);
  const me = (await app.inject({ url: '/api/v1/users/me', headers: bearer(user.pair.access_token) })).json();
  assert.equal(me.mfa_enabled, false);
  assert.equal((await login(app, user.email, PASSWORD)).statusCode, 201);
  assertProblem(await remove({ password: PASSWORD, totp_code: code(user.secret) }), 404, 'not_found');

  const db = await testDatabase();
  const left = await db.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [user.id]);
  assert.equal(left.rows.length, 0);
  const audit = await db.query(
    `SELECT outcome FROM audit_events WHERE user_id = $1 AND action = 'mfa.totp_disabled' ORDER BY seq`,
    [user.id],
  );
  assert.deepEqual(
    audit.rows.map((r) => (r as { outcome: string }).outcome),
    ['failure', 'failure', 'success'],
  );

  // A recovery code also turns it off (lost device).
  const again = await mfaUser(app, 'mfa-off-recovery');
  const byRecovery = await app.inject({
    method: 'DELETE',
    url: '/api/v1/users/me/mfa/totp',
    headers: bearer(again.pair.access_token),
    payload: { password: PASSWORD, totp_code: again.recoveryCodes[0] },
  });
  assert.equal(byRecovery.statusCode, 204, byRecovery.body);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp } from '../helpers/app.ts';
import { bearer, signIn, verifiedUser } from '../helpers/identity.ts';
import { assertProblem } from '../helpers/problem.ts';

interface SessionItem {
  id: string;
  is_current: boolean;
  ip_address: string | null;
  user_agent: string | null;
}

test('GET /sessions lists your active sessions, newest first, with is_current and pagination', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'list');
  const a = await signIn(app, user.email, undefined, '192.0.2.10');
  const b = await signIn(app, user.email, undefined, '192.0.2.11');
  const c = await signIn(app, user.email, undefined, '192.0.2.12');
  const res = await app.inject({ url: '/api/v1/sessions', headers: bearer(b.access_token) });
  assert.equal(res.statusCode, 200);
  const page = res.json() as { data: SessionItem[]; next_cursor: string | null; has_more: boolean };
  assert.deepEqual(
    page.data.map((s) => [s.id, s.is_current, s.ip_address]),
    [
      [c.session_id, false, '192.0.2.12'],
      [b.session_id, true, '192.0.2.11'],
      [a.session_id, false, '192.0.2.10'],
    ],
  );
  assert.equal(page.has_more, false);
  assert.equal(page.next_cursor, null);
  assert.deepEqual(Object.keys(page.data[0]!).sort(), [
    'created_at',
    'expires_at',
    'id',
    'ip_address',
    'is_current',
    'last_used_at',
    'user_agent',
  ]);
  assert.equal(res.headers['cache-control'], 'no-store');

  const first = (
    await app.inject({ url: '/api/v1/sessions?limit=2', headers: bearer(b.access_token) })
  ).json() as {
    data: SessionItem[];
    next_cursor: string;
    has_more: boolean;
  };
  assert.equal(first.has_more, true);
  assert.deepEqual(
    first.data.map((s) => s.id),
    [c.session_id, b.session_id],
  );
  const second = (
    await app.inject({
      url: `/api/v1/sessions?limit=2&cursor=${first.next_cursor}`,
      headers: bearer(b.access_token),
    })
  ).json() as { data: SessionItem[]; has_more: boolean };
  assert.deepEqual(
    second.data.map((s) => s.id),
    [a.session_id],
  );
  assert.equal(second.has_more, false);
  assertProblem(
    await app.inject({ url: '/api/v1/sessions?cursor=!!', headers: bearer(b.access_token) }),
    400,
    'invalid_cursor',
  );
  assertProblem(
    await app.inject({ url: '/api/v1/sessions?limit=0', headers: bearer(b.access_token) }),
    422,
    'validation_failed',
  );
});

test('GET and DELETE /sessions/{id}: your own sessions only', async (t) => {
  const app = await buildTestApp(t);
  const alice = await verifiedUser(app, 'alice');
  const bob = await verifiedUser(app, 'bob');
  const a1 = await signIn(app, alice.email);
  const a2 = await signIn(app, alice.email);
  const b1 = await signIn(app, bob.email);

  const own = await app.inject({
    url: `/api/v1/sessions/${a2.session_id}`,
    headers: bearer(a1.access_token),
  });
  assert.equal(own.statusCode, 200);
  assert.equal((own.json() as SessionItem).is_current, false);

  // Bob cannot see or revoke Alice's session; non-UUID ids are not found either.
  assertProblem(
    await app.inject({ url: `/api/v1/sessions/${a1.session_id}`, headers: bearer(b1.access_token) }),
    404,
    'not_found',
  );
  assertProblem(
    await app.inject({
      method: 'DELETE',
      url: `/api/v1/sessions/${a1.session_id}`,
      headers: bearer(b1.access_token),
    }),
    404,
    'not_found',
  );
  assertProblem(
    await app.inject({ url: '/api/v1/sessions/not-a-uuid', headers: bearer(a1.access_token) }),
    404,
    'not_found',
  );
  assert.equal(
    (await app.inject({ url: '/api/v1/users/me', headers: bearer(a1.access_token) })).statusCode,
    200,
  );

  const del = await app.inject({
    method: 'DELETE',
    url: `/api/v1/sessions/${a2.session_id}`,
    headers: bearer(a1.access_token),
  });
  assert.equal(del.statusCode, 204);
  assertProblem(
    await app.inject({ url: '/api/v1/users/me', headers: bearer(a2.access_token) }),
    401,
    'unauthorized',
  );
  assertProblem(
    await app.inject({ url: `/api/v1/sessions/${a2.session_id}`, headers: bearer(a1.access_token) }),
    404,
    'not_found',
  );
  assertProblem(
    await app.inject({
      method: 'DELETE',
      url: `/api/v1/sessions/${a2.session_id}`,
      headers: bearer(a1.access_token),
    }),
    404,
    'not_found',
  );
});

test('DELETE /sessions revokes all but the current session', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'all');
  const other = await verifiedUser(app, 'bystander');
  const keep = await signIn(app, user.email);
  const gone1 = await signIn(app, user.email);
  const gone2 = await signIn(app, user.email);
  const bystander = await signIn(app, other.email);
  const res = await app.inject({
    method: 'DELETE',
    url: '/api/v1/sessions',
    headers: bearer(keep.access_token),
  });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { revoked_count: 2 });
  for (const pair of [gone1, gone2]) {
    assertProblem(
      await app.inject({ url: '/api/v1/users/me', headers: bearer(pair.access_token) }),
      401,
      'unauthorized',
    );
  }
  assert.equal(
    (await app.inject({ url: '/api/v1/users/me', headers: bearer(keep.access_token) })).statusCode,
    200,
  );
  assert.equal(
    (await app.inject({ url: '/api/v1/users/me', headers: bearer(bystander.access_token) })).statusCode,
    200,
  );
  const again = await app.inject({
    method: 'DELETE',
    url: '/api/v1/sessions',
    headers: bearer(keep.access_token),
  });
  assert.deepEqual(again.json(), { revoked_count: 0 });
});

test('GET and PATCH /users/me', async (t) => {
  const app = await buildTestApp(t);
  const user = await verifiedUser(app, 'me');
  const pair = await signIn(app, user.email);
  const res = await app.inject({ url: '/api/v1/users/me', headers: bearer(pair.access_token) });
  assert.equal(res.statusCode, 200);
  const body = res.json() as Record<string, unknown>;
  assert.equal(body.id, user.id);
  assert.equal(body.email, user.email);
  assert.equal(body.name, 'Test User');
  assert.equal(body.email_verified, true);
  assert.equal(body.mfa_enabled, false);

  const patch = await app.inject({
    method: 'PATCH',
    url: '/api/v1/users/me',
    headers: bearer(pair.access_token),
    payload: { name: 'Renamed' },
  });
  assert.equal(patch.statusCode, 200);
  assert.equal((patch.json() as { name: string }).name, 'Renamed');
  const unchanged = await app.inject({
    method: 'PATCH',
    url: '/api/v1/users/me',
    headers: bearer(pair.access_token),
    payload: {},
  });
  assert.equal((unchanged.json() as { name: string }).name, 'Renamed');
  const unknown = assertProblem(
    await app.inject({
      method: 'PATCH',
      url: '/api/v1/users/me',
      headers: bearer(pair.access_token),
      payload: { email: 'x@example.test' },
    }),
    422,
    'validation_failed',
  );
  assert.ok((unknown.errors as { code: string }[]).some((e) => e.code === 'unknown_field'));
});

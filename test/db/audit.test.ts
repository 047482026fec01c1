import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { type AuditEventView, AuditService, auditContextFrom } from '../../src/modules/audit/index.ts';
import { KeyStore } from '../../src/platform/crypto/index.ts';
import type { Database } from '../../src/platform/db/index.ts';
import { Migrator } from '../../src/platform/db/migrator.ts';
import { AppError } from '../../src/platform/http/problems.ts';
import { REDACTED } from '../../src/platform/logging.ts';
import { buildTestApp, testDatabase } from '../helpers/app.ts';
import { createScratchDatabase } from '../helpers/database.ts';

const MASTER = [{ kid: 'audit-test', key: randomBytes(32) }];

async function setup(database?: Database) {
  const db = database ?? (await testDatabase());
  await new Migrator(db).up();
  const keys = new KeyStore(db, MASTER);
  return { db, keys, audit: new AuditService(db, keys) };
}

/** The tamper test breaks the chain on purpose, so it gets a database of its own. */
async function isolated(t: TestContext) {
  const scratch = await createScratchDatabase();
  const db = await scratch.open();
  t.after(async () => {
    await db.close();
    await scratch.drop();
  });
  return setup(db);
}

const ctx = (userId: string | null) => ({
  requestId: 'req-1',
  method: 'PATCH',
  path: '/api/v1/users/me',
  ip: '203.0.113.7',
  userAgent: 'curl/8.5',
  userId,
  sessionId: userId ? 'session-1' : null,
  actorType: userId ? ('user' as const) : ('anonymous' as const),
  traceId: null,
});

async function only(audit: AuditService, userId: string): Promise<AuditEventView[]> {
  return (await audit.listForUser(userId, { limit: 200 })).data;
}

test('events chain, verify, and read back decrypted with secrets redacted', async () => {
  const { audit } = await setup();
  const user = uuidv7();
  await audit.record({ action: 'system.started' });
  await audit.record({ action: 'user.login', request: ctx(user), status: 200, context: { mfa: false } });
  await audit.record({
    action: 'user.updated',
    request: ctx(user),
    resourceType: 'user',
    resourceId: user,
    changes: { before: { name: 'A', password: 'old' }, after: { name: 'B', password: 'new' } },
    context: { nested: { api_key: 'k', note: 'kept' } },
  });
  assert.equal((await audit.verifyChain()).valid, true);
  const [updated, login] = await only(audit, user);
  assert.equal(updated!.action, 'user.updated');
  assert.equal(updated!.actor_id, user);
  assert.equal(updated!.actor_type, 'user');
  assert.equal(updated!.session_id, 'session-1');
  assert.equal(updated!.ip, '203.0.113.7');
  assert.equal(updated!.user_agent, 'curl/8.5');
  assert.equal(updated!.outcome, 'success');
  assert.deepEqual(updated!.changes, {
    before: { name: 'A', password: REDACTED },
    after: { name: 'B', password: REDACTED },
  });
  assert.deepEqual(updated!.context, { nested: { api_key: REDACTED, note: 'kept' } });
  assert.equal(login!.status, 200);
  assert.deepEqual(login!.context, { mfa: false });
});

test('personal fields are stored only as ciphertext', async () => {
  const { db, audit } = await setup();
  const user = uuidv7();
  const { id } = await audit.record({
    action: 'user.login',
    request: ctx(user),
    context: { marker: 'plain-x' },
  });
  const { rows } = await db.query<{ ip: Uint8Array; context: Uint8Array }>(
    'SELECT ip, context FROM audit_events WHERE id = $1',
    [id],
  );
  assert.ok(!Buffer.from(rows[0]!.ip).toString('latin1').includes('203.0.113.7'));
  assert.ok(!Buffer.from(rows[0]!.context).toString('latin1').includes('plain-x'));
});

test('50 concurrent appends give one unforked chain', async () => {
  const { db, audit } = await setup();
  const users = Array.from({ length: 5 }, () => uuidv7());
  const recorded = await Promise.all(
    Array.from({ length: 50 }, (_, i) => audit.record({ action: 'load.test', request: ctx(users[i % 5]!) })),
  );
  const seqs = recorded.map((r) => r.seq).sort((a, b) => a - b);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1);
  const { rows } = await db.query<{ n: number; distinct_prev: number }>(
    'SELECT count(*) AS n, count(DISTINCT prev_hash) AS distinct_prev FROM audit_events',
  );
  assert.equal(rows[0]!.n, rows[0]!.distinct_prev, 'no two events share a predecessor');
  const verified = await audit.verifyChain(7);
  assert.equal(verified.valid, true);
  assert.equal(verified.checked, rows[0]!.n);
});

test('the database refuses UPDATE, DELETE and TRUNCATE', async () => {
  const { db, audit } = await setup();
  const { id } = await audit.record({ action: 'immutable.check' });
  await assert.rejects(db.query("UPDATE audit_events SET action = 'x' WHERE id = $1", [id]), /append-only/);
  await assert.rejects(db.query('DELETE FROM audit_events WHERE id = $1', [id]), /append-only/);
  await assert.rejects(db.exec('TRUNCATE audit_events'), /append-only/);
  const { rows } = await db.query('SELECT action FROM audit_events WHERE id = $1', [id]);
  assert.deepEqual(rows, [{ action: 'immutable.check' }]);
});

test('verifyChain names exactly the row changed behind the triggers', async (t) => {
  const { db, audit } = await isolated(t);
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await audit.record({ action: `step.${i}` })).id);
  assert.deepEqual(await audit.verifyChain(), { valid: true, checked: 6 });
  await db.exec('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update');
  await db.query("UPDATE audit_events SET action = 'step.forged' WHERE id = $1", [ids[3]]);
  await db.exec('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update');
  assert.deepEqual(await audit.verifyChain(), { valid: false, checked: 4, first_bad_id: ids[3] });
  assert.deepEqual(await audit.verifyChain(2), { valid: false, checked: 4, first_bad_id: ids[3] });
});

test('a failure event survives the rolled-back business transaction', async () => {
  const { db, audit } = await setup();
  const user = uuidv7();
  await assert.rejects(
    db.transaction(async (tx) => {
      await audit.record({ action: 'connection.created', request: ctx(user) }, tx);
      throw new Error('provider said no');
    }),
    /provider said no/,
  );
  await audit.recordFailure({ action: 'connection.created', request: ctx(user), reason: 'provider_error' });
  const events = await only(audit, user);
  assert.equal(events.length, 1);
  assert.equal(events[0]!.outcome, 'failure');
  assert.equal(events[0]!.reason, 'provider_error');
  assert.equal((await audit.verifyChain()).valid, true);

  // audited(): success commits with the change; a throw rolls back and records the failure.
  const other = uuidv7();
  const value = await audit.audited({ action: 'thing.done', request: ctx(other) }, async (tx) => {
    await tx.query('SELECT 1');
    return 42;
  });
  assert.equal(value, 42);
  const failure = Object.assign(new Error('nope'), { code: 'conflict' });
  await assert.rejects(
    audit.audited({ action: 'thing.failed', request: ctx(other) }, async () => {
      throw failure;
    }),
    (err) => err === failure,
  );
  const [failed, done] = await only(audit, other);
  assert.deepEqual([done!.action, done!.outcome], ['thing.done', 'success']);
  assert.deepEqual(
    [failed!.action, failed!.outcome, failed!.reason],
    ['thing.failed', 'failure', 'conflict'],
  );
});

test('destroying the user key leaves the row, blanks its personal fields, and the chain verifies', async () => {
  const { keys, audit } = await setup();
  const user = uuidv7();
  await audit.record({
    action: 'user.updated',
    request: ctx(user),
    context: { a: 1 },
    changes: { before: { n: 1 }, after: { n: 2 } },
  });
  await keys.destroy(user);
  await audit.record({ action: 'user.deleted', request: ctx(user), context: { erased: true } });
  const events = await only(audit, user);
  assert.deepEqual(
    events.map((e) => [e.action, e.ip, e.user_agent, e.context, e.changes, e.request_id]),
    [
      ['user.deleted', null, null, null, null, 'req-1'],
      ['user.updated', null, null, null, null, 'req-1'],
    ],
  );
  assert.equal((await audit.verifyChain()).valid, true);
  // Another new audit service (fresh cache) reads the same.
  const again = new AuditService(await testDatabase(), new KeyStore(await testDatabase(), MASTER));
  assert.equal((await only(again, user))[1]!.ip, null);
});

test('lists page newest first with an opaque cursor, filtered; bad cursors are refused', async () => {
  const { audit } = await setup();
  const user = uuidv7();
  for (let i = 0; i < 5; i++) await audit.record({ action: `page.${i}`, request: ctx(user) });
  const first = await audit.listForUser(user, { limit: 2 });
  assert.deepEqual(
    first.data.map((e) => e.action),
    ['page.4', 'page.3'],
  );
  const second = await audit.listForUser(user, { limit: 2, cursor: first.next_cursor! });
  assert.deepEqual(
    second.data.map((e) => e.action),
    ['page.2', 'page.1'],
  );
  const last = await audit.listForUser(user, { limit: 2, cursor: second.next_cursor! });
  assert.deepEqual([last.data.length, last.next_cursor], [1, null]);
  const filtered = await audit.list({ userId: user, action: 'page.3', from: new Date(Date.now() - 60_000) });
  assert.deepEqual(
    filtered.data.map((e) => e.action),
    ['page.3'],
  );
  assert.equal((await audit.list({ userId: user, to: new Date(0) })).data.length, 0);
  await assert.rejects(
    audit.listForUser(user, { cursor: 'not-a-cursor' }),
    (err) => err instanceof AppError && err.code === 'invalid_cursor',
  );
  assert.equal((await audit.listForUser(uuidv7())).data.length, 0, "another user's events are not listed");
});

test('auditContextFrom fills who, where and how from the request', async (t) => {
  const { audit } = await setup();
  const user = uuidv7();
  const app = await buildTestApp(t, {
    routes: (app) => {
      app.get('/audit-probe', async (request) => {
        if (request.headers['x-as-user']) request.auth = { userId: user, sessionId: 'sess-9', roles: [] };
        return audit.record({ action: 'probe', request: auditContextFrom(request) });
      });
      app.get('/admin/audit-probe', async (request) => {
        request.auth = { userId: user, sessionId: 'sess-9', roles: ['admin'] };
        return audit.record({ action: 'admin.probe', request: auditContextFrom(request) });
      });
    },
  });
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const res = await app.inject({
    url: '/audit-probe?token=secret',
    headers: { 'x-as-user': '1', 'user-agent': 'probe/1', traceparent: `00-${trace}-00f067aa0ba902b7-01` },
  });
  assert.equal(res.statusCode, 200, res.body);
  await app.inject({ url: '/admin/audit-probe' });
  const [admin, probe] = await only(audit, user);
  assert.equal(probe!.actor_type, 'user');
  assert.equal(probe!.session_id, 'sess-9');
  assert.equal(probe!.method, 'GET');
  assert.equal(probe!.path, '/audit-probe');
  assert.equal(probe!.request_id, res.headers['x-request-id']);
  assert.equal(probe!.user_agent, 'probe/1');
  assert.equal(probe!.ip, '127.0.0.1');
  assert.equal(probe!.trace_id, trace);
  assert.equal(admin!.actor_type, 'admin');
  assert.equal(admin!.trace_id, null);

  await app.inject({ url: '/audit-probe' });
  const anonymous = (await audit.list({ action: 'probe', limit: 1 })).data[0]!;
  assert.deepEqual(
    [anonymous.actor_type, anonymous.actor_id, anonymous.user_id],
    ['anonymous', 'anonymous', null],
  );
  assert.equal(anonymous.ip, '127.0.0.1', 'anonymous events encrypt under the system key');
});

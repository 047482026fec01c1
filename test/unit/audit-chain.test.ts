import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalRow, chainHash, GENESIS_HASH, traceIdFrom } from '../../src/modules/audit/index.ts';

const row = {
  id: '01900000-0000-7000-8000-000000000001',
  seq: 1,
  occurred_at: new Date('2027-01-02T03:04:05.678Z'),
  actor_id: 'system',
  actor_type: 'system',
  user_id: null,
  session_id: null,
  action: 'system.started',
  resource_type: null,
  resource_id: null,
  outcome: 'success',
  reason: null,
  request_id: null,
  trace_id: null,
  method: null,
  path: null,
  status: null,
  ip: new Uint8Array([1, 2, 3]),
  user_agent: null,
  context: null,
  changes: null,
  prev_hash: GENESIS_HASH,
};

test('canonical rows are stable: sorted keys, base64 bytes, ISO times, seq as text', () => {
  const text = canonicalRow(row);
  const parsed = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), Object.keys(parsed).sort());
  assert.equal(parsed.ip, 'AQID');
  assert.equal(parsed.occurred_at, '2027-01-02T03:04:05.678Z');
  assert.equal(parsed.seq, '1');
  const reordered = Object.fromEntries(Object.entries(row).reverse()) as typeof row;
  assert.equal(canonicalRow(reordered), text);
  assert.equal(canonicalRow({ ...row, ip: Buffer.from([1, 2, 3]) }), text, 'Buffer and Uint8Array agree');
});

test('the hash covers every column and the previous hash', () => {
  const hash = chainHash(row);
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(chainHash({ ...row }), hash);
  assert.notEqual(chainHash({ ...row, action: 'system.stopped' }), hash);
  assert.notEqual(chainHash({ ...row, ip: new Uint8Array([1, 2, 4]) }), hash);
  assert.notEqual(chainHash({ ...row, prev_hash: 'f'.repeat(64) }), hash);
  assert.notEqual(chainHash({ ...row, status: 200 }), hash);
});

test('trace ids come from a well-formed traceparent only', () => {
  const id = '4bf92f3577b34da6a3ce929d0e0e4736';
  assert.equal(traceIdFrom(`00-${id}-00f067aa0ba902b7-01`), id);
  assert.equal(traceIdFrom([`00-${id.toUpperCase()}-00f067aa0ba902b7-01`]), id);
  assert.equal(traceIdFrom(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`), null);
  assert.equal(traceIdFrom('garbage'), null);
  assert.equal(traceIdFrom(undefined), null);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionStateRow } from '../../src/modules/identity/identity.repository.ts';
import { SessionCache } from '../../src/modules/identity/identity.session-cache.ts';
import type { Database } from '../../src/platform/db/index.ts';

function fakeDb(rows: Map<string, Partial<SessionStateRow>>): { db: Database; reads: () => number } {
  let reads = 0;
  const db = {
    async query(_sql: string, params: readonly unknown[]) {
      reads++;
      const row = rows.get(String(params[0]));
      return { rows: row ? [row] : [], rowCount: row ? 1 : 0 };
    },
  } as unknown as Database;
  return { db, reads: () => reads };
}

test('the session cache reads once per TTL, single-flight, and forgets on invalidation', async () => {
  let now = 1_000;
  const rows = new Map([['s1', { session_id: 's1', user_id: 'u1' }]]);
  const { db, reads } = fakeDb(rows);
  const cache = new SessionCache(db, { ttlMs: 5000, maxEntries: 10, now: () => now });

  const [a, b] = await Promise.all([cache.get('s1'), cache.get('s1')]);
  assert.equal(a?.user_id, 'u1');
  assert.equal(b, a);
  assert.equal(reads(), 1);
  await cache.get('s1');
  assert.equal(reads(), 1, 'within the TTL: no database read');

  now += 5000;
  await cache.get('s1');
  assert.equal(reads(), 2, 'after the TTL: read again');

  cache.invalidate('s1');
  rows.delete('s1');
  assert.equal(await cache.get('s1'), null);
  assert.equal(reads(), 3);

  rows.set('s2', { session_id: 's2', user_id: 'u2' });
  await cache.get('s2');
  cache.invalidateUser('u2');
  await cache.get('s2');
  assert.equal(reads(), 5);
});

test('the cache holds at most maxEntries sessions', async () => {
  const rows = new Map([1, 2, 3].map((n) => [`s${n}`, { session_id: `s${n}`, user_id: 'u' }]));
  const { db, reads } = fakeDb(rows);
  const cache = new SessionCache(db, { ttlMs: 60_000, maxEntries: 2 });
  for (const id of ['s1', 's2', 's3']) await cache.get(id);
  assert.equal(reads(), 3);
  await cache.get('s3');
  assert.equal(reads(), 3);
  await cache.get('s1');
  assert.equal(reads(), 4, 's1 was evicted as the oldest');
});

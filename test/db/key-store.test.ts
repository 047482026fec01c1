import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import {
  DecryptionError,
  KeyDestroyedError,
  KeyStore,
  MasterKeyError,
  SYSTEM_OWNER,
} from '../../src/platform/crypto/index.ts';
import type { Database } from '../../src/platform/db/index.ts';
import { Migrator } from '../../src/platform/db/migrator.ts';
import { testDatabase } from '../helpers/app.ts';
import { createScratchDatabase } from '../helpers/database.ts';

const master = (kid: string) => ({ kid, key: randomBytes(32) });
const K1 = master('k1');

async function db(): Promise<Database> {
  const database = await testDatabase();
  await new Migrator(database).up();
  return database;
}

/** A database of its own, for tests that count every key or need a clean keyring history. */
async function isolated(t: TestContext): Promise<Database> {
  const scratch = await createScratchDatabase();
  const database = await scratch.open();
  t.after(async () => {
    await database.close();
    await scratch.drop();
  });
  await new Migrator(database).up();
  return database;
}

async function keyRows(database: Database, owner: string) {
  const { rows } = await database.query('SELECT * FROM keystore.data_keys WHERE owner_id = $1', [owner]);
  return rows;
}

test('encrypts and decrypts per owner; one data key per owner, made on first use even when raced', async () => {
  const database = await db();
  const store = new KeyStore(database, [K1]);
  const owner = uuidv7();
  const cts = await Promise.all(
    Array.from({ length: 20 }, (_, i) => new KeyStore(database, [K1]).encrypt(owner, 'p', `secret ${i}`)),
  );
  assert.equal((await keyRows(database, owner)).length, 1);
  for (const [i, ct] of cts.entries()) {
    assert.equal((await store.decrypt(owner, 'p', ct)).toString(), `secret ${i}`);
  }
  const binary = randomBytes(100);
  assert.deepEqual(await store.decrypt(owner, 'bin', await store.encrypt(owner, 'bin', binary)), binary);
  const system = await store.encrypt(SYSTEM_OWNER, 'idempotency:x', 'anonymous response');
  assert.equal((await store.decrypt(SYSTEM_OWNER, 'idempotency:x', system)).toString(), 'anonymous response');
});

test('a ciphertext moved to another owner or purpose, or tampered with, does not decrypt', async () => {
  const database = await db();
  const store = new KeyStore(database, [K1]);
  const [alice, bob] = [uuidv7(), uuidv7()];
  const ct = await store.encrypt(alice, 'connection:1:token', 'alice token');
  await store.encrypt(bob, 'connection:1:token', 'bob token');
  await assert.rejects(store.decrypt(bob, 'connection:1:token', ct), DecryptionError);
  await assert.rejects(store.decrypt(alice, 'connection:2:token', ct), DecryptionError);
  await assert.rejects(store.decrypt(uuidv7(), 'connection:1:token', ct), /no data key/);
  const tampered = Buffer.from(ct);
  tampered[tampered.length - 1]! ^= 0xff;
  await assert.rejects(store.decrypt(alice, 'connection:1:token', tampered), DecryptionError);
  // Ciphertexts survive a storage round trip (bytea) unchanged.
  const { rows } = await database.query<{ b: Uint8Array }>('SELECT $1::bytea AS b', [ct]);
  assert.equal((await store.decrypt(alice, 'connection:1:token', rows[0]!.b)).toString(), 'alice token');
});

test('destroy crypto-shreds: decrypt and encrypt fail for that owner, other owners are untouched', async () => {
  const database = await db();
  const store = new KeyStore(database, [K1]);
  let clock = 0;
  const other = new KeyStore(database, [K1], { cacheTtlMs: 1000, now: () => clock }); // another instance
  const [alice, bob] = [uuidv7(), uuidv7()];
  const ct = await store.encrypt(alice, 'p', 'alice data');
  const bobCt = await store.encrypt(bob, 'p', 'bob data');
  assert.equal((await other.decrypt(alice, 'p', ct)).toString(), 'alice data');
  await store.destroy(alice);
  await assert.rejects(store.decrypt(alice, 'p', ct), KeyDestroyedError);
  await assert.rejects(store.encrypt(alice, 'p', 'more'), KeyDestroyedError);
  // Another instance's cached copy lives at most the cache TTL.
  clock = 1000;
  await assert.rejects(other.decrypt(alice, 'p', ct), KeyDestroyedError);
  const [row] = await keyRows(database, alice);
  assert.equal(row!.wrapped_key, null);
  assert.equal(row!.master_kid, null);
  assert.ok(row!.destroyed_at instanceof Date);
  assert.equal((await store.decrypt(bob, 'p', bobCt)).toString(), 'bob data');
  // Destroying an owner that never had a key leaves a tombstone: no key is made later.
  const never = uuidv7();
  await store.destroy(never);
  await assert.rejects(store.encrypt(never, 'p', 'x'), KeyDestroyedError);
  await store.destroy(alice); // idempotent
  await assert.rejects(store.destroy(SYSTEM_OWNER), /cannot be destroyed/);
});

test('a data key made in a rolled-back transaction is not kept', async () => {
  const database = await db();
  const store = new KeyStore(database, [K1]);
  const owner = uuidv7();
  await assert.rejects(
    database.transaction(async (tx) => {
      const ct = await store.encrypt(owner, 'p', 'inside', tx);
      assert.equal((await store.decrypt(owner, 'p', ct, tx)).toString(), 'inside');
      throw new Error('business failure');
    }),
    /business failure/,
  );
  assert.equal((await keyRows(database, owner)).length, 0);
  const ct = await store.encrypt(owner, 'p', 'after');
  assert.equal((await new KeyStore(database, [K1]).decrypt(owner, 'p', ct)).toString(), 'after');
});

test('rewrapAll moves every data key to the active master key; the old key can then be removed', async (t) => {
  const database = await isolated(t);
  const owners = Array.from({ length: 5 }, () => uuidv7());
  const old = new KeyStore(database, [K1]);
  await old.init();
  const cts = await Promise.all(owners.map((o) => old.encrypt(o, 'p', `data of ${o}`)));
  await old.destroy(owners[4]!);

  const K2 = master('k2');
  const onlyNew = new KeyStore(database, [K2]);
  await assert.rejects(onlyNew.decrypt(owners[0]!, 'p', cts[0]!), MasterKeyError, 'old key still needed');

  const rotated = new KeyStore(database, [K2, K1]);
  await rotated.init();
  assert.equal((await rotated.decrypt(owners[0]!, 'p', cts[0]!)).toString(), `data of ${owners[0]}`);
  const result = await rotated.rewrapAll({ batchSize: 2 });
  assert.deepEqual(result, {
    rewrapped: 4,
    failed: 0,
    missingMasterKids: [],
    current: 4,
    remaining: 0,
    destroyed: 1,
  });
  assert.equal((await rotated.rewrapAll()).rewrapped, 0, 'a second run has nothing to do');

  const fresh = new KeyStore(database, [K2]);
  for (const [i, owner] of owners.slice(0, 4).entries()) {
    assert.equal((await fresh.decrypt(owner, 'p', cts[i]!)).toString(), `data of ${owner}`);
  }
  await assert.rejects(fresh.decrypt(owners[4]!, 'p', cts[4]!), KeyDestroyedError);
  const { rows } = await database.query<{ rotated_at: Date | null }>(
    'SELECT rotated_at FROM keystore.data_keys WHERE destroyed_at IS NULL',
  );
  assert.ok(rows.every((r) => r.rotated_at instanceof Date));

  const keys = await fresh.masterKeys();
  assert.equal(keys.length, 1);
  assert.equal(keys[0]!.kid, 'k2');
  assert.equal(keys[0]!.active, true);
  assert.ok(keys[0]!.firstSeenAt instanceof Date);
});

test('rewrapAll reports keys whose master key is missing; init refuses a kid reused for another key', async (t) => {
  const database = await isolated(t);
  const owner = uuidv7();
  const K3 = master('k3');
  await new KeyStore(database, [K3]).encrypt(owner, 'p', 'x');
  const result = await new KeyStore(database, [master('k4')]).rewrapAll();
  assert.equal(result.failed, 1);
  assert.deepEqual(result.missingMasterKids, ['k3']);
  assert.equal(result.remaining, 1);

  await new KeyStore(database, [K3]).init();
  await assert.rejects(new KeyStore(database, [master('k3')]).init(), /not the key first used/);
  assert.throws(() => new KeyStore(database, []), MasterKeyError);
  assert.throws(() => new KeyStore(database, [{ kid: 'short', key: randomBytes(16) }]), /32 bytes/);
});

test('a small cache still serves many owners correctly', async () => {
  const database = await db();
  const store = new KeyStore(database, [K1], { cacheSize: 1 });
  const owners = [uuidv7(), uuidv7(), uuidv7()];
  const cts = [];
  for (const owner of owners) cts.push(await store.encrypt(owner, 'p', owner));
  for (const [i, owner] of owners.entries()) {
    assert.equal((await store.decrypt(owner, 'p', cts[i]!)).toString(), owner);
  }
  await assert.rejects(store.encrypt('', 'p', 'x'), TypeError);
  await assert.rejects(store.encrypt(owners[0]!, '', 'x'), TypeError);
});

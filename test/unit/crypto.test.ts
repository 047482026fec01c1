import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { parse as parseUuid, v7 as uuidv7 } from 'uuid';
import {
  HEADER_BYTES,
  open,
  parseHeader,
  seal,
  unwrapKey,
  wrapKey,
} from '../../src/platform/crypto/envelope.ts';
import { DecryptionError } from '../../src/platform/crypto/errors.ts';
import { KeyCache } from '../../src/platform/crypto/key-cache.ts';

const key = randomBytes(32);
const keyRef = Buffer.from(parseUuid(uuidv7()));

test('the ciphertext format: version byte, key ref, 12-byte iv, 16-byte tag, then the body', () => {
  const plaintext = Buffer.from('account 123456789');
  const ct = seal(key, keyRef, 'user-1', 'connection:token', plaintext);
  assert.equal(ct.length, HEADER_BYTES + plaintext.length);
  assert.equal(HEADER_BYTES, 1 + 16 + 12 + 16);
  assert.equal(ct[0], 1);
  assert.deepEqual(ct.subarray(1, 17), keyRef);
  assert.deepEqual(parseHeader(ct), { version: 1, keyRef });
  assert.deepEqual(open(key, ct, 'user-1', 'connection:token'), plaintext);
  // A fresh iv every time: the same plaintext never encrypts the same way twice.
  assert.notDeepEqual(seal(key, keyRef, 'user-1', 'connection:token', plaintext), ct);
  assert.deepEqual(open(key, seal(key, keyRef, 'u', 'p', Buffer.alloc(0)), 'u', 'p'), Buffer.alloc(0));
});

test('flipping any byte (version, key ref, iv, tag or body) is detected', () => {
  const ct = seal(key, keyRef, 'user-1', 'p', Buffer.from('secret data'));
  for (let i = 0; i < ct.length; i++) {
    const bad = Buffer.from(ct);
    bad[i] = bad[i]! ^ 0x01;
    assert.throws(() => open(key, bad, 'user-1', 'p'), DecryptionError, `byte ${i}`);
  }
  assert.throws(() => open(key, ct.subarray(0, HEADER_BYTES - 1), 'user-1', 'p'), /too short/);
  const v2 = Buffer.from(ct);
  v2[0] = 2;
  assert.throws(() => parseHeader(v2), /unknown format version 2/);
  assert.throws(() => open(randomBytes(32), ct, 'user-1', 'p'), DecryptionError);
});

test('associated data binds a ciphertext to its owner and purpose', () => {
  const ct = seal(key, keyRef, 'user-1', 'audit:row-1:ip', Buffer.from('203.0.113.9'));
  assert.throws(() => open(key, ct, 'user-2', 'audit:row-1:ip'), DecryptionError);
  assert.throws(() => open(key, ct, 'user-1', 'audit:row-2:ip'), DecryptionError);
  assert.throws(() => open(key, ct, 'user-1', 'audit:row-1:user_agent'), DecryptionError);
  // Length prefixes: moving characters between owner and purpose does not collide.
  const ab = seal(key, keyRef, 'ab', 'c', Buffer.from('x'));
  assert.throws(() => open(key, ab, 'a', 'bc'), DecryptionError);
});

test('wrapped data keys are bound to master kid, owner and key id', () => {
  const master = { kid: 'k1', key: randomBytes(32) };
  const dataKey = randomBytes(32);
  const keyId = uuidv7();
  const wrapped = wrapKey(master, dataKey, 'user-1', keyId);
  assert.equal(wrapped.length, 12 + 16 + 32);
  assert.deepEqual(unwrapKey(master, wrapped, 'user-1', keyId), dataKey);
  assert.equal(unwrapKey(master, wrapped, 'user-2', keyId), null, 'copied to another owner');
  assert.equal(unwrapKey(master, wrapped, 'user-1', uuidv7()), null, 'another key id');
  assert.equal(unwrapKey({ kid: 'k2', key: master.key }, wrapped, 'user-1', keyId), null, 'another kid');
  assert.equal(unwrapKey({ kid: 'k1', key: randomBytes(32) }, wrapped, 'user-1', keyId), null, 'wrong key');
  assert.equal(unwrapKey(master, wrapped.subarray(1), 'user-1', keyId), null, 'truncated');
});

test('the key cache is a bounded LRU whose entries expire', () => {
  let now = 0;
  const cache = new KeyCache<string>(2, 1000, () => now);
  cache.set('a', 'A');
  cache.set('b', 'B');
  assert.equal(cache.get('a'), 'A'); // a is now the most recently used
  cache.set('c', 'C');
  assert.equal(cache.size, 2);
  assert.equal(cache.get('b'), undefined, 'least recently used evicted');
  assert.equal(cache.get('a'), 'A');
  now = 1000;
  assert.equal(cache.get('a'), undefined, 'expired');
  cache.set('d', 'D');
  cache.delete('d');
  assert.equal(cache.get('d'), undefined);
  cache.set('e', 'E');
  cache.clear();
  assert.equal(cache.size, 0);
});

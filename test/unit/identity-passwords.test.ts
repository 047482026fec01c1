import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dictionary } from '@zxcvbn-ts/language-common';
import { assertStrongPassword, PasswordHasher } from '../../src/modules/identity/index.ts';
import { AppError } from '../../src/platform/http/problems.ts';

test('the common-password list is large enough and matched case-insensitively', async () => {
  assert.ok(dictionary['passwords-common'].length >= 10_000);
  await assert.rejects(assertStrongPassword('Qwerty123456'), (err: AppError) => err.code === 'weak_password');
  await assertStrongPassword('a quiet mountain lake at dawn');
  await assert.rejects(assertStrongPassword('ab'.repeat(5)), AppError);
  await assert.rejects(assertStrongPassword('é'.repeat(129)), AppError);
  await assertStrongPassword('é'.repeat(128));
});

test('hash, verify, rehash detection', async () => {
  const hasher = new PasswordHasher();
  const hash = await hasher.hash('a quiet mountain lake at dawn');
  assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(await hasher.verify(hash, 'a quiet mountain lake at dawn'), true);
  assert.equal(await hasher.verify(hash, 'a quiet mountain lake at dusk'), false);
  assert.equal(await hasher.verify('not a hash', 'x'), false);
  assert.equal(hasher.needsRehash(hash), false);
  assert.equal(hasher.needsRehash(hash.replace('t=2', 't=1')), true);
});

test('an unknown email is checked against a real hash with the same parameters (no timing oracle)', async () => {
  // Equal cost by construction (same verify, same argon2id parameters), not by a wall-clock
  // measurement that a loaded machine would make flaky.
  const hasher = new PasswordHasher();
  const dummy = await hasher.dummyHash();
  assert.match(dummy, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(hasher.needsRehash(dummy), false);
  assert.equal(await hasher.dummyHash(), dummy, 'made once');
  assert.equal(await hasher.verifyDummy('anything at all'), false);
});

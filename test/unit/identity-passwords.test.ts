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

test('an unknown email costs about as much as a wrong password (dummy hash)', async () => {
  const hasher = new PasswordHasher();
  const hash = await hasher.hash('a quiet mountain lake at dawn');
  await hasher.verifyDummy('warm-up');
  const time = async (fn: () => Promise<unknown>) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 5; i++) await fn();
    return Number(process.hrtime.bigint() - start);
  };
  const real = await time(() => hasher.verify(hash, 'wrong password here'));
  const dummy = await time(() => hasher.verifyDummy('wrong password here'));
  assert.ok(dummy > real * 0.5 && dummy < real * 2, `real ${real} ns, dummy ${dummy} ns`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  base32Decode,
  base32Encode,
  hotp,
  matchTotp,
  otpauthUri,
  totp,
  totpStep,
} from '../../src/modules/identity/identity.totp.ts';

const RFC_SECRET = Buffer.from('12345678901234567890', 'ascii');

test('TOTP matches the RFC 6238 appendix B vectors (SHA-1, 8 digits)', () => {
  const vectors: [number, string][] = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];
  for (const [time, code] of vectors) assert.equal(totp(RFC_SECRET, time, 8), code, `T=${time}`);
});

test('HOTP matches the RFC 4226 appendix D vectors (6 digits)', () => {
  const expected = [
    '755224',
    '287082',
    '359152',
    '969429',
    '338314',
    '254676',
    '287922',
    '162583',
    '399871',
    '520489',
  ];
  for (const [counter, code] of expected.entries()) assert.equal(hotp(RFC_SECRET, counter), code);
});

test('base32 round-trips and matches RFC 4648 vectors', () => {
  assert.equal(base32Encode(Buffer.from('foobar')), 'MZXW6YTBOI');
  assert.equal(base32Encode(Buffer.from('f')), 'MY');
  assert.equal(base32Decode('MZXW6YTBOI').toString(), 'foobar');
  assert.equal(base32Encode(RFC_SECRET), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  assert.deepEqual(base32Decode(base32Encode(RFC_SECRET)), RFC_SECRET);
});

test('matchTotp accepts ±1 step, refuses older steps, used steps and malformed codes', () => {
  const now = 1_700_000_000;
  const step = totpStep(now);
  const code = (s: number) => hotp(RFC_SECRET, s);
  assert.equal(matchTotp(RFC_SECRET, code(step), now, null), step);
  assert.equal(matchTotp(RFC_SECRET, code(step - 1), now, null), step - 1);
  assert.equal(matchTotp(RFC_SECRET, code(step + 1), now, null), step + 1);
  assert.equal(matchTotp(RFC_SECRET, code(step - 2), now, null), null);
  assert.equal(matchTotp(RFC_SECRET, code(step + 2), now, null), null);
  assert.equal(matchTotp(RFC_SECRET, code(step), now, step), null);
  assert.equal(matchTotp(RFC_SECRET, code(step + 1), now, step), step + 1);
  assert.equal(matchTotp(RFC_SECRET, '12345', now, null), null);
  assert.equal(matchTotp(RFC_SECRET, 'abcdef', now, null), null);
});

test('otpauthUri carries the base32 secret, issuer and parameters', () => {
  const uri = new URL(otpauthUri('Dashtam', 'ada@example.test', RFC_SECRET));
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.searchParams.get('secret'), base32Encode(RFC_SECRET));
  assert.equal(uri.searchParams.get('issuer'), 'Dashtam');
  assert.equal(uri.searchParams.get('digits'), '6');
  assert.equal(uri.searchParams.get('period'), '30');
  assert.match(uri.href, /^otpauth:\/\/totp\/Dashtam:ada%40example\.test\?/);
});

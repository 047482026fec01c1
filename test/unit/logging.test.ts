import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REDACTED, redactDeep, redactUrl } from '../../src/platform/logging.ts';

test('redactDeep hides credential-named keys at any depth and keeps the rest', () => {
  const input = {
    user: { email: 'a@b.c', password: 'p', profile: { api_key: 'k', name: 'n' } },
    headers: { Authorization: 'Bearer x', Cookie: 'c', accept: 'json' },
    list: [{ access_token: 't' }, { clientSecret: 's' }, { credentials: { key_id: 'id' } }],
    totp_code: '123456',
  };
  assert.deepEqual(redactDeep(input), {
    user: { email: 'a@b.c', password: REDACTED, profile: { api_key: REDACTED, name: 'n' } },
    headers: { Authorization: REDACTED, Cookie: REDACTED, accept: 'json' },
    list: [{ access_token: REDACTED }, { clientSecret: REDACTED }, { credentials: REDACTED }],
    totp_code: REDACTED,
  });
});

test('redactDeep keeps errors readable but redacts their secret fields', () => {
  const err = Object.assign(new Error('boom'), { code: 'E1', token: 't' });
  const out = redactDeep({ err }) as { err: Record<string, unknown> };
  assert.equal(out.err.message, 'boom');
  assert.equal(out.err.code, 'E1');
  assert.equal(out.err.token, REDACTED);
});

test('redactDeep stops at a depth limit (cyclic or huge objects)', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.doesNotThrow(() => redactDeep(cyclic));
});

test('redactUrl hides secret query values only', () => {
  assert.equal(redactUrl('/a?token=x&page=2'), `/a?token=${REDACTED}&page=2`);
  assert.equal(
    redactUrl('/oauth/schwab/callback?code=c&state=s'),
    `/oauth/schwab/callback?code=${REDACTED}&state=${REDACTED}`,
  );
  assert.equal(redactUrl('/events?ticket=t'), `/events?ticket=${REDACTED}`);
  assert.equal(redactUrl('/plain'), '/plain');
});

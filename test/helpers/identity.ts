import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

export const PASSWORD = 'correct horse battery staple 42';

/** A fresh address per call, so tests never share users. */
export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomUUID()}@example.test`;
}

export function register(
  app: FastifyInstance,
  body: Record<string, unknown>,
  ip = '192.0.2.1',
): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/api/v1/users', payload: body, remoteAddress: ip });
}

/** The token of the newest link emailed to `email` (from the dev mailbox). */
export async function mailedToken(app: FastifyInstance, email: string): Promise<string> {
  const res = await app.inject({ url: `/api/v1/dev/mailbox?to=${encodeURIComponent(email)}` });
  const { data } = res.json() as { data: { text: string }[] };
  const match = /token=([A-Za-z0-9_%-]+)/.exec(data[0]?.text ?? '');
  assert.ok(match, `no token mailed to ${email}`);
  return decodeURIComponent(match[1]!);
}

export async function mailCount(app: FastifyInstance, email: string): Promise<number> {
  const res = await app.inject({ url: `/api/v1/dev/mailbox?to=${encodeURIComponent(email)}` });
  return (res.json() as { data: unknown[] }).data.length;
}

/** Registers and verifies a user; their id, email and password. */
export async function verifiedUser(
  app: FastifyInstance,
  prefix = 'user',
): Promise<{ id: string; email: string; password: string }> {
  const email = uniqueEmail(prefix);
  const res = await register(app, { email, password: PASSWORD, name: 'Test User' });
  assert.equal(res.statusCode, 201, res.body);
  const token = await mailedToken(app, email);
  const verified = await app.inject({
    method: 'POST',
    url: '/api/v1/email-verifications',
    payload: { token },
  });
  assert.equal(verified.statusCode, 200, verified.body);
  return { id: (res.json() as { id: string }).id, email, password: PASSWORD };
}

export function login(
  app: FastifyInstance,
  email: string,
  password: string,
  ip = '192.0.2.1',
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/api/v1/sessions',
    payload: { email, password },
    remoteAddress: ip,
    headers: { 'user-agent': 'identity-test' },
  });
}

export interface Pair {
  access_token: string;
  refresh_token: string;
  session_id: string;
}

/** Signs in and returns the token pair. */
export async function signIn(
  app: FastifyInstance,
  email: string,
  password = PASSWORD,
  ip?: string,
): Promise<Pair> {
  const res = await login(app, email, password, ip);
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as Pair;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../../db/index.ts';
import { AppError } from '../problems.ts';
import { IdempotencyRepository, type IdempotencyScope } from './idempotency.repository.ts';

/** Encrypts stored responses at rest, bound to their owner and record (the platform key store). */
export interface ResponseCipher {
  encrypt(ownerId: string, purpose: string, plaintext: Buffer | string): Promise<Buffer>;
  decrypt(ownerId: string, purpose: string, ciphertext: Buffer): Promise<Buffer>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false for routes that issue credentials or erase data: retrying them must not replay a secret. */
    idempotency?: boolean;
  }
  interface FastifyRequest {
    idempotencyRecord?: { id: string; cipherOwner: string };
  }
}

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
const METHODS = new Set(['POST', 'PATCH', 'DELETE']);
/** Key-store owner for anonymous callers' responses (their "owner" is only a hashed IP). */
const SYSTEM_OWNER = 'system';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** JSON with object keys sorted at every level, so `{a,b}` and `{b,a}` are the same request. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function fingerprintOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  const query = q >= 0 ? request.url.slice(q + 1) : '';
  const body = Buffer.isBuffer(request.body)
    ? request.body.toString('base64')
    : canonicalJson(request.body ?? null);
  return sha256(`${query}\n${body}`);
}

const stored = (payload: unknown): payload is string | Buffer =>
  typeof payload === 'string' || Buffer.isBuffer(payload);

/**
 * Idempotency-Key for POST, PATCH and DELETE (API.md Conventions). The first request claims the
 * key with a unique insert; duplicates get the stored 2xx response again, 409 while the first
 * still runs, or 422 when the body differs. Errors release the key.
 */
export function registerIdempotency(
  app: FastifyInstance,
  deps: { db: Database; cipher: ResponseCipher; abandonedAfterSeconds: number },
): IdempotencyRepository {
  const repo = new IdempotencyRepository(deps.db);

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers['idempotency-key'];
    if (header === undefined || !METHODS.has(request.method) || request.is404) return;
    if (request.routeOptions.config.idempotency === false) return;
    if (typeof header !== 'string' || header.length < 1 || header.length > 255) {
      throw new AppError('invalid_idempotency_key', {
        detail: 'Idempotency-Key must be one header of 1 to 255 characters.',
        errors: [
          { field: 'Idempotency-Key', code: 'invalid_length', message: 'must be 1 to 255 characters' },
        ],
      });
    }
    const userId = request.auth?.userId;
    const scope: IdempotencyScope = {
      ownerId: userId ?? `ip:${sha256(request.ip)}`,
      method: request.method,
      path: request.url.split('?')[0] ?? '/',
      keyHash: sha256(header),
    };
    const fingerprint = fingerprintOf(request);
    const cipherOwner = userId ?? SYSTEM_OWNER;

    // The common case (a new key) costs one insert; leftovers are cleared only when it collides.
    let claimed = await repo.claim(scope, fingerprint, IDEMPOTENCY_TTL_SECONDS);
    if (!claimed && (await repo.releaseStale(scope, deps.abandonedAfterSeconds)) > 0) {
      claimed = await repo.claim(scope, fingerprint, IDEMPOTENCY_TTL_SECONDS);
    }
    if (claimed) {
      request.idempotencyRecord = { id: claimed, cipherOwner };
      return;
    }
    const existing = await repo.find(scope);
    if (existing && existing.fingerprint !== fingerprint) {
      throw new AppError('idempotency_key_mismatch', {
        detail: 'This Idempotency-Key was used with a different request.',
      });
    }
    if (!existing || existing.state === 'in_progress') {
      throw new AppError('idempotency_in_progress', {
        detail: 'A request with this Idempotency-Key is still running.',
        retryable: true,
        retryAfter: 1,
      });
    }
    const body = await deps.cipher.decrypt(
      cipherOwner,
      `idempotency:${existing.id}`,
      Buffer.from(existing.response!),
    );
    reply.code(existing.status_code!).header('idempotent-replayed', 'true');
    if (existing.content_type) reply.header('content-type', existing.content_type);
    return reply.send(body);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const record = request.idempotencyRecord;
    if (!record) return payload;
    request.idempotencyRecord = undefined;
    const ok = reply.statusCode >= 200 && reply.statusCode < 300;
    const body = payload ?? ''; // 204 and other empty answers replay as empty
    if (!ok || !stored(body)) {
      await repo.release(record.id);
      return payload;
    }
    try {
      const sealed = await deps.cipher.encrypt(record.cipherOwner, `idempotency:${record.id}`, body);
      const type = reply.getHeader('content-type');
      await repo.complete(record.id, reply.statusCode, typeof type === 'string' ? type : null, sealed);
    } catch (err) {
      request.log.error({ err }, 'could not store the idempotent response; key released');
      await repo.release(record.id).catch(() => {});
    }
    return payload;
  });

  // A request that never reached onSend (client gone, hook error) must not hold the key forever.
  app.addHook('onResponse', async (request) => {
    const record = request.idempotencyRecord;
    if (record) await repo.release(record.id);
  });

  return repo;
}

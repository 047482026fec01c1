import { v7 as uuidv7 } from 'uuid';
import type { Queryable } from '../../db/index.ts';

export interface IdempotencyScope {
  ownerId: string;
  method: string;
  path: string;
  keyHash: string;
}

export interface IdempotencyRecord {
  id: string;
  fingerprint: string;
  state: 'in_progress' | 'completed';
  status_code: number | null;
  content_type: string | null;
  response: Uint8Array | null;
  created_at: Date;
}

/** SQL for idempotency records; the unique scope constraint is what serialises duplicates. */
export class IdempotencyRepository {
  constructor(private readonly db: Queryable) {}

  /** Claims the scope for a new request; null when another request already holds it. */
  async claim(scope: IdempotencyScope, fingerprint: string, ttlSeconds: number): Promise<string | null> {
    const id = uuidv7();
    const { rows } = await this.db.query<{ id: string }>(
      `INSERT INTO idempotency_keys (id, owner_id, method, path, key_hash, fingerprint, state, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'in_progress', now() + make_interval(secs => $7))
       ON CONFLICT ON CONSTRAINT idempotency_keys_scope DO NOTHING
       RETURNING id`,
      [id, scope.ownerId, scope.method, scope.path, scope.keyHash, fingerprint, ttlSeconds],
    );
    return rows[0]?.id ?? null;
  }

  async find(scope: IdempotencyScope): Promise<IdempotencyRecord | undefined> {
    const { rows } = await this.db.query<IdempotencyRecord & { expired: boolean }>(
      `SELECT id, fingerprint, state, status_code, content_type, response, created_at
         FROM idempotency_keys
        WHERE owner_id = $1 AND method = $2 AND path = $3 AND key_hash = $4 AND expires_at > now()`,
      [scope.ownerId, scope.method, scope.path, scope.keyHash],
    );
    return rows[0];
  }

  /** Drops an expired record, or an in-progress one abandoned by a crashed request, so the key can be claimed again. */
  async releaseStale(scope: IdempotencyScope, abandonedAfterSeconds: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM idempotency_keys
        WHERE owner_id = $1 AND method = $2 AND path = $3 AND key_hash = $4
          AND (expires_at <= now()
               OR (state = 'in_progress' AND created_at < now() - make_interval(secs => $5)))`,
      [scope.ownerId, scope.method, scope.path, scope.keyHash, abandonedAfterSeconds],
    );
    return rowCount;
  }

  async complete(
    id: string,
    statusCode: number,
    contentType: string | null,
    response: Buffer,
  ): Promise<void> {
    await this.db.query(
      `UPDATE idempotency_keys
          SET state = 'completed', status_code = $2, content_type = $3, response = $4, completed_at = now()
        WHERE id = $1 AND state = 'in_progress'`,
      [id, statusCode, contentType, response],
    );
  }

  async release(id: string): Promise<void> {
    await this.db.query(`DELETE FROM idempotency_keys WHERE id = $1 AND state = 'in_progress'`, [id]);
  }

  async purgeExpired(): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM idempotency_keys WHERE expires_at <= now()');
    return rowCount;
  }

  async deleteForOwner(ownerId: string): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM idempotency_keys WHERE owner_id = $1', [ownerId]);
    return rowCount;
  }
}

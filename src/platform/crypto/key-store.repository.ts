import type { Queryable } from '../db/database.ts';

export interface DataKeyRow {
  owner_id: string;
  key_id: string;
  master_kid: string | null;
  wrapped_key: Uint8Array | null;
  destroyed_at: Date | null;
}

/** SQL for the `keystore` schema; parameterised, nothing else touches these tables. */
export const keyStoreRepository = {
  async find(q: Queryable, ownerId: string): Promise<DataKeyRow | undefined> {
    const { rows } = await q.query<DataKeyRow>(
      `SELECT owner_id, key_id, master_kid, wrapped_key, destroyed_at FROM keystore.data_keys
        WHERE owner_id = $1`,
      [ownerId],
    );
    return rows[0];
  },

  /** True when this call inserted the key; false when another caller's key already exists. */
  async insert(q: Queryable, ownerId: string, keyId: string, masterKid: string, wrapped: Buffer) {
    const { rows } = await q.query(
      `INSERT INTO keystore.data_keys (owner_id, key_id, master_kid, wrapped_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (owner_id) DO NOTHING RETURNING key_id`,
      [ownerId, keyId, masterKid, wrapped],
    );
    return rows.length > 0;
  },

  async destroy(q: Queryable, ownerId: string, tombstoneKeyId: string): Promise<void> {
    await q.query(
      `INSERT INTO keystore.data_keys (owner_id, key_id, destroyed_at) VALUES ($1, $2, now())
       ON CONFLICT (owner_id) DO UPDATE SET wrapped_key = NULL, master_kid = NULL,
         destroyed_at = COALESCE(keystore.data_keys.destroyed_at, now())`,
      [ownerId, tombstoneKeyId],
    );
  },

  /** Live keys not under `activeKid`, by owner after `after` (keyset pagination). */
  async notUnder(q: Queryable, activeKid: string, after: string, limit: number): Promise<DataKeyRow[]> {
    const { rows } = await q.query<DataKeyRow>(
      `SELECT owner_id, key_id, master_kid, wrapped_key, destroyed_at FROM keystore.data_keys
        WHERE destroyed_at IS NULL AND master_kid <> $1 AND owner_id > $2 ORDER BY owner_id LIMIT $3`,
      [activeKid, after, limit],
    );
    return rows;
  },

  /** Skips a key destroyed or re-wrapped by someone else since it was read; returns rows changed. */
  async rewrap(q: Queryable, ownerId: string, oldKid: string, wrapped: Buffer, newKid: string) {
    const res = await q.query(
      `UPDATE keystore.data_keys SET wrapped_key = $3, master_kid = $4, rotated_at = now()
        WHERE owner_id = $1 AND master_kid = $2 AND destroyed_at IS NULL`,
      [ownerId, oldKid, wrapped, newKid],
    );
    return res.rowCount;
  },

  async counts(q: Queryable, activeKid: string) {
    const { rows } = await q.query<{ current: number; remaining: number; destroyed: number }>(
      `SELECT count(*) FILTER (WHERE destroyed_at IS NULL AND master_kid = $1) AS current,
              count(*) FILTER (WHERE destroyed_at IS NULL AND master_kid <> $1) AS remaining,
              count(*) FILTER (WHERE destroyed_at IS NOT NULL) AS destroyed
         FROM keystore.data_keys`,
      [activeKid],
    );
    return rows[0]!;
  },

  async registerMaster(q: Queryable, kid: string, fingerprint: string): Promise<void> {
    await q.query(
      'INSERT INTO keystore.master_keys (kid, fingerprint) VALUES ($1, $2) ON CONFLICT (kid) DO NOTHING',
      [kid, fingerprint],
    );
  },

  async masters(q: Queryable, kids: string[]) {
    const { rows } = await q.query<{ kid: string; fingerprint: string; first_seen_at: Date }>(
      'SELECT kid, fingerprint, first_seen_at FROM keystore.master_keys WHERE kid = ANY($1::text[])',
      [kids],
    );
    return rows;
  },
};

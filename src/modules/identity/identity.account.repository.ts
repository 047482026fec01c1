import type { Queryable } from '../../platform/db/index.ts';
import type { OneTimePurpose } from './identity.repository.ts';

/** SQL for password changes and resets and email changes (kept apart from the phase-1 repository). */
export const accountRepository = {
  /** Marks the user's unused tokens of `purpose` used (a new request replaces older ones). */
  async retireTokens(q: Queryable, userId: string, purpose: OneTimePurpose): Promise<void> {
    await q.query(
      `UPDATE one_time_tokens SET used_at = now() WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL`,
      [userId, purpose],
    );
  },

  async insertEmailChangeToken(
    q: Queryable,
    token: { hash: Buffer; userId: string; newEmail: string; ttlSeconds: number },
  ): Promise<void> {
    await q.query(
      `INSERT INTO one_time_tokens (token_hash, user_id, purpose, new_email, expires_at)
       VALUES ($1, $2, 'email_change', $3, now() + make_interval(secs => $4))`,
      [token.hash, token.userId, token.newEmail, token.ttlSeconds],
    );
  },

  /** Consumes an unused, unexpired token of one of `purposes`; what it was for, or undefined. */
  async consumeAny(
    q: Queryable,
    hash: Buffer,
    purposes: readonly OneTimePurpose[],
  ): Promise<{ user_id: string; purpose: OneTimePurpose; new_email: string | null } | undefined> {
    const { rows } = await q.query<{ user_id: string; purpose: OneTimePurpose; new_email: string | null }>(
      `UPDATE one_time_tokens SET used_at = now()
        WHERE token_hash = $1 AND purpose = ANY($2::text[]) AND used_at IS NULL AND expires_at > now()
        RETURNING user_id, purpose, new_email`,
      [hash, purposes],
    );
    return rows[0];
  },

  /** Replaces the address (verified by the token that carried it); throws 23505 when taken. */
  async changeEmail(q: Queryable, userId: string, email: string): Promise<void> {
    await q.query(`UPDATE users SET email = $2, email_verified_at = now() WHERE id = $1`, [userId, email]);
  },

  /** Revokes every active session of the user; their ids. */
  async revokeAll(q: Queryable, userId: string, reason: string): Promise<string[]> {
    const { rows } = await q.query<{ id: string }>(
      `UPDATE sessions SET revoked_at = now(), revoked_reason = $2
        WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING id`,
      [userId, reason],
    );
    return rows.map((r) => r.id);
  },
};

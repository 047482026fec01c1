import type { Queryable } from '../../platform/db/index.ts';

export interface TotpRow {
  user_id: string;
  secret_ciphertext: Buffer;
  confirmed_at: Date | null;
  last_used_step: number | null;
}

/** SQL of TOTP enrolment and recovery codes. */
export const mfaRepository = {
  async totpOf(q: Queryable, userId: string): Promise<TotpRow | undefined> {
    const { rows } = await q.query<TotpRow>(
      `SELECT user_id, secret_ciphertext, confirmed_at, last_used_step::float8 AS last_used_step
         FROM user_totp WHERE user_id = $1`,
      [userId],
    );
    const row = rows[0];
    return row && { ...row, secret_ciphertext: Buffer.from(row.secret_ciphertext) };
  },

  async enabled(q: Queryable, userId: string): Promise<boolean> {
    const { rows } = await q.query(
      `SELECT 1 FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL`,
      [userId],
    );
    return rows.length > 0;
  },

  /** Stores a pending secret (replacing a pending one); false when MFA is already confirmed. */
  async savePending(q: Queryable, userId: string, ciphertext: Buffer): Promise<boolean> {
    const { rowCount } = await q.query(
      `INSERT INTO user_totp (user_id, secret_ciphertext) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = EXCLUDED.secret_ciphertext, created_at = now(),
         last_used_step = NULL
       WHERE user_totp.confirmed_at IS NULL`,
      [userId, ciphertext],
    );
    return rowCount === 1;
  },

  /** Records `step` as used (and confirms a pending enrolment when `confirm`); false if it was already. */
  async useStep(q: Queryable, userId: string, step: number, confirm: boolean): Promise<boolean> {
    const { rowCount } = await q.query(
      `UPDATE user_totp SET last_used_step = $2,
              confirmed_at = CASE WHEN $3::boolean THEN now() ELSE confirmed_at END
        WHERE user_id = $1 AND (last_used_step IS NULL OR last_used_step < $2)
          AND (confirmed_at IS NULL) = $3::boolean`,
      [userId, step, confirm],
    );
    return rowCount === 1;
  },

  async replaceRecoveryCodes(q: Queryable, userId: string, hashes: Buffer[]): Promise<void> {
    await q.query(`DELETE FROM recovery_codes WHERE user_id = $1`, [userId]);
    for (const hash of hashes) {
      await q.query(`INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)`, [userId, hash]);
    }
  },

  /** Marks an unused recovery code used; false when there is none. */
  async useRecoveryCode(q: Queryable, userId: string, hash: Buffer): Promise<boolean> {
    const { rowCount } = await q.query(
      `UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
      [userId, hash],
    );
    return rowCount === 1;
  },

  async remove(q: Queryable, userId: string): Promise<void> {
    await q.query(`DELETE FROM recovery_codes WHERE user_id = $1`, [userId]);
    await q.query(`DELETE FROM user_totp WHERE user_id = $1`, [userId]);
  },
};

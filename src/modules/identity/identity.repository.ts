import type { Queryable } from '../../platform/db/index.ts';

export interface UserRow {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  email_verified_at: Date | null;
  roles: string[];
  min_token_version: number;
  disabled_at: Date | null;
  created_at: Date;
}

export interface SessionRow {
  id: string;
  user_id: string;
  ip_address: string | null;
  user_agent: string | null;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
}

/** A session with what decides whether its tokens still work. */
export interface SessionStateRow {
  session_id: string;
  user_id: string;
  email: string;
  email_verified_at: Date | null;
  roles: string[];
  min_token_version: number;
  disabled_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date;
}

export interface RefreshRow extends SessionStateRow {
  issued_version: number;
  rotated_at: Date | null;
  rotated_seconds_ago: number | null;
}

export type OneTimePurpose = 'email_verification' | 'password_reset' | 'email_change';

const USER_COLUMNS = `id, email, name, password_hash, email_verified_at, roles, min_token_version, disabled_at, created_at`;
const SESSION_COLUMNS = `id, user_id, ip_address, user_agent, created_at, last_used_at, expires_at`;
const STATE_COLUMNS = `s.id AS session_id, s.user_id, u.email, u.email_verified_at, u.roles, u.min_token_version,
  u.disabled_at, s.revoked_at, s.expires_at`;
const ACTIVE = `revoked_at IS NULL AND expires_at > now()`;

/** The identity module's SQL. Every query on a user's rows names the user. */
export const identityRepository = {
  async insertUser(
    q: Queryable,
    user: { id: string; email: string; name: string | null; passwordHash: string },
  ): Promise<UserRow> {
    const { rows } = await q.query<UserRow>(
      `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4) RETURNING ${USER_COLUMNS}`,
      [user.id, user.email, user.name, user.passwordHash],
    );
    return rows[0]!;
  },

  async userByEmail(q: Queryable, email: string): Promise<UserRow | undefined> {
    const { rows } = await q.query<UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE lower(email) = lower($1)`,
      [email],
    );
    return rows[0];
  },

  async userById(q: Queryable, id: string): Promise<UserRow | undefined> {
    const { rows } = await q.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0];
  },

  async updateName(q: Queryable, id: string, name: string | null): Promise<UserRow | undefined> {
    const { rows } = await q.query<UserRow>(
      `UPDATE users SET name = $2 WHERE id = $1 RETURNING ${USER_COLUMNS}`,
      [id, name],
    );
    return rows[0];
  },

  async setPasswordHash(q: Queryable, id: string, passwordHash: string): Promise<void> {
    await q.query(`UPDATE users SET password_hash = $2 WHERE id = $1`, [id, passwordHash]);
  },

  async markEmailVerified(q: Queryable, id: string): Promise<void> {
    await q.query(`UPDATE users SET email_verified_at = now() WHERE id = $1 AND email_verified_at IS NULL`, [
      id,
    ]);
  },

  async insertOneTimeToken(
    q: Queryable,
    token: { hash: Buffer; userId: string; purpose: OneTimePurpose; ttlSeconds: number },
  ): Promise<void> {
    await q.query(
      `INSERT INTO one_time_tokens (token_hash, user_id, purpose, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
      [token.hash, token.userId, token.purpose, token.ttlSeconds],
    );
  },

  /** Marks an unused, unexpired token used; its user, or undefined (unknown, used or expired alike). */
  async consumeOneTimeToken(
    q: Queryable,
    hash: Buffer,
    purpose: OneTimePurpose,
  ): Promise<string | undefined> {
    const { rows } = await q.query<{ user_id: string }>(
      `UPDATE one_time_tokens SET used_at = now()
        WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
        RETURNING user_id`,
      [hash, purpose],
    );
    return rows[0]?.user_id;
  },

  /** Failures of the email+IP pair within `pairSeconds`, and of the email within `emailSeconds`. */
  async failureCounts(
    q: Queryable,
    email: string,
    ip: string,
    pairSeconds: number,
    emailSeconds: number,
  ): Promise<{ pair: number; email: number }> {
    const { rows } = await q.query<{ pair: number; email: number }>(
      `SELECT count(*) FILTER (WHERE ip = $2 AND failed_at > now() - make_interval(secs => $3))::int AS pair,
              count(*)::int AS email
         FROM login_failures
        WHERE email_lower = $1 AND failed_at > now() - make_interval(secs => $4)`,
      [email, ip, pairSeconds, emailSeconds],
    );
    return rows[0] ?? { pair: 0, email: 0 };
  },

  /** Seconds until the n-th newest failure of the pair (of the email when ip is null) leaves the window. */
  async unlocksIn(
    q: Queryable,
    email: string,
    ip: string | null,
    windowSeconds: number,
    n: number,
  ): Promise<number> {
    const { rows } = await q.query<{ seconds: number }>(
      `SELECT GREATEST(0, EXTRACT(EPOCH FROM failed_at + make_interval(secs => $3) - now()))::float8 AS seconds
         FROM login_failures WHERE email_lower = $1 AND ($2::text IS NULL OR ip = $2)
        ORDER BY failed_at DESC OFFSET $4 LIMIT 1`,
      [email, ip, windowSeconds, n - 1],
    );
    return rows[0]?.seconds ?? windowSeconds;
  },

  async recordFailure(q: Queryable, email: string, ip: string): Promise<void> {
    await q.query(`INSERT INTO login_failures (email_lower, ip) VALUES ($1, $2)`, [email, ip]);
  },

  async clearFailures(q: Queryable, email: string, ip: string): Promise<void> {
    await q.query(`DELETE FROM login_failures WHERE email_lower = $1 AND ip = $2`, [email, ip]);
  },

  async lockUser(q: Queryable, userId: string): Promise<void> {
    await q.query(`SELECT id FROM users WHERE id = $1 FOR UPDATE`, [userId]);
  },

  /** Revokes the user's active sessions beyond the newest `keep`; their ids. */
  async evictBeyond(q: Queryable, userId: string, keep: number): Promise<string[]> {
    const { rows } = await q.query<{ id: string }>(
      `UPDATE sessions SET revoked_at = now(), revoked_reason = 'session_cap'
        WHERE user_id = $1 AND id IN (
          SELECT id FROM sessions WHERE user_id = $1 AND ${ACTIVE}
           ORDER BY created_at DESC, id DESC OFFSET $2)
        RETURNING id`,
      [userId, keep],
    );
    return rows.map((r) => r.id);
  },

  async insertSession(
    q: Queryable,
    session: { id: string; userId: string; ip: string | null; userAgent: string | null; ttlSeconds: number },
  ): Promise<SessionRow> {
    const { rows } = await q.query<SessionRow>(
      `INSERT INTO sessions (id, user_id, ip_address, user_agent, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING ${SESSION_COLUMNS}`,
      [session.id, session.userId, session.ip, session.userAgent, session.ttlSeconds],
    );
    return rows[0]!;
  },

  async insertRefreshToken(q: Queryable, hash: Buffer, sessionId: string, version: number): Promise<void> {
    await q.query(`INSERT INTO refresh_tokens (token_hash, session_id, issued_version) VALUES ($1, $2, $3)`, [
      hash,
      sessionId,
      version,
    ]);
  },

  async sessionState(q: Queryable, sessionId: string): Promise<SessionStateRow | undefined> {
    const { rows } = await q.query<SessionStateRow>(
      `SELECT ${STATE_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`,
      [sessionId],
    );
    return rows[0];
  },

  async refreshByHash(q: Queryable, hash: Buffer): Promise<RefreshRow | undefined> {
    const { rows } = await q.query<RefreshRow>(
      `SELECT ${STATE_COLUMNS}, rt.issued_version, rt.rotated_at,
              EXTRACT(EPOCH FROM now() - rt.rotated_at)::float8 AS rotated_seconds_ago
         FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id JOIN users u ON u.id = s.user_id
        WHERE rt.token_hash = $1`,
      [hash],
    );
    return rows[0];
  },

  /** Rotates a token once: true for the one caller that wins. */
  async rotate(q: Queryable, hash: Buffer, replacedBy: Buffer): Promise<boolean> {
    const { rowCount } = await q.query(
      `UPDATE refresh_tokens SET rotated_at = now(), replaced_by = $2 WHERE token_hash = $1 AND rotated_at IS NULL`,
      [hash, replacedBy],
    );
    return rowCount === 1;
  },

  async touchSession(q: Queryable, sessionId: string): Promise<void> {
    await q.query(`UPDATE sessions SET last_used_at = now() WHERE id = $1`, [sessionId]);
  },

  async listSessions(
    q: Queryable,
    userId: string,
    limit: number,
    beforeId: string | null,
  ): Promise<SessionRow[]> {
    const { rows } = await q.query<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions
        WHERE user_id = $1 AND ${ACTIVE} AND ($2::uuid IS NULL OR id < $2::uuid)
        ORDER BY id DESC LIMIT $3`,
      [userId, beforeId, limit],
    );
    return rows;
  },

  async sessionOf(q: Queryable, userId: string, sessionId: string): Promise<SessionRow | undefined> {
    const { rows } = await q.query<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND id = $2 AND ${ACTIVE}`,
      [userId, sessionId],
    );
    return rows[0];
  },

  /** Revokes one active session of the user; false when there is none. */
  async revokeSession(q: Queryable, userId: string, sessionId: string, reason: string): Promise<boolean> {
    const { rowCount } = await q.query(
      `UPDATE sessions SET revoked_at = now(), revoked_reason = $3 WHERE user_id = $1 AND id = $2 AND ${ACTIVE}`,
      [userId, sessionId, reason],
    );
    return rowCount === 1;
  },

  /** Revokes every active session of the user but `keepId`; their ids. */
  async revokeOthers(q: Queryable, userId: string, keepId: string, reason: string): Promise<string[]> {
    const { rows } = await q.query<{ id: string }>(
      `UPDATE sessions SET revoked_at = now(), revoked_reason = $3
        WHERE user_id = $1 AND id <> $2 AND ${ACTIVE} RETURNING id`,
      [userId, keepId, reason],
    );
    return rows.map((r) => r.id);
  },
};

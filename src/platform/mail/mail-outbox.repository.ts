import type { Queryable } from '../db/index.ts';

export interface OutboxMessage {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string | null;
}

export interface MailboxEntry {
  id: string;
  to: string;
  subject: string;
  text: string;
  created_at: string;
}

const MAX_ERROR_LENGTH = 500;

/** SQL over mail_outbox (migration 0005). */
export class MailOutboxRepository {
  constructor(private readonly db: Queryable) {}

  async insert(message: OutboxMessage, q: Queryable = this.db): Promise<void> {
    await q.query(
      `INSERT INTO mail_outbox (id, to_address, subject, text_body, html_body)
       VALUES ($1, $2, $3, $4, $5)`,
      [message.id, message.to, message.subject, message.text, message.html],
    );
  }

  /** Counts an attempt and returns the message, or undefined when it is already sent or purged. */
  async claim(id: string): Promise<OutboxMessage | undefined> {
    const result = await this.db.query<OutboxMessage>(
      `UPDATE mail_outbox SET attempts = attempts + 1
        WHERE id = $1 AND sent_at IS NULL
        RETURNING id, to_address AS "to", subject, text_body AS "text", html_body AS "html"`,
      [id],
    );
    return result.rows[0];
  }

  /**
   * Marks a message sent (last_error stays: it tells why earlier attempts failed); `erase` blanks
   * its bodies (production keeps no links or tokens once they are delivered).
   */
  async markSent(id: string, erase: boolean): Promise<void> {
    await this.db.query(
      `UPDATE mail_outbox
          SET sent_at = now(),
              text_body = CASE WHEN $2 THEN '' ELSE text_body END,
              html_body = CASE WHEN $2 THEN NULL ELSE html_body END
        WHERE id = $1`,
      [id, erase],
    );
  }

  async recordFailure(id: string, error: string): Promise<void> {
    await this.db.query('UPDATE mail_outbox SET last_error = $2 WHERE id = $1', [
      id,
      error.slice(0, MAX_ERROR_LENGTH),
    ]);
  }

  /** The dev mailbox: the last 100 messages, newest first, optionally for one address. */
  async list(to: string | undefined, limit = 100): Promise<MailboxEntry[]> {
    const result = await this.db.query<MailboxEntry & { created_at: Date }>(
      `SELECT id, to_address AS "to", subject, text_body AS "text", created_at
         FROM mail_outbox
        WHERE $1::text IS NULL OR lower(to_address) = lower($1::text)
        ORDER BY created_at DESC, id DESC
        LIMIT $2`,
      [to ?? null, limit],
    );
    return result.rows.map((r) => ({ ...r, created_at: r.created_at.toISOString() }));
  }

  /**
   * Deletes messages created more than `days` ago: sent ones, and unsent ones too (their retries
   * ended long before, and their bodies hold links that must not linger).
   */
  async purgeOlderThan(days: number): Promise<number> {
    const result = await this.db.query(
      `DELETE FROM mail_outbox WHERE created_at < now() - make_interval(days => $1::int)`,
      [days],
    );
    return result.rowCount;
  }
}

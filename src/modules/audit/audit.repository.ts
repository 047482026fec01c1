import type { Queryable } from '../../platform/db/database.ts';
import type { AuditRow } from './audit.chain.ts';

const COLUMNS = `id, seq, occurred_at, actor_id, actor_type, user_id, session_id, action, resource_type,
  resource_id, outcome, reason, request_id, trace_id, method, path, status, ip, user_agent, context,
  changes, prev_hash, hash`;

export interface AuditPageQuery {
  userId?: string;
  action?: string;
  from?: Date;
  to?: Date;
  beforeSeq?: number;
  limit: number;
}

/** SQL for `audit_events`; the table accepts INSERT and SELECT only (triggers refuse the rest). */
export const auditRepository = {
  async head(q: Queryable): Promise<{ seq: number; hash: string } | undefined> {
    const { rows } = await q.query<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
    );
    return rows[0];
  },

  async insert(q: Queryable, row: AuditRow): Promise<void> {
    await q.query(
      `INSERT INTO audit_events (${COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
               $21, $22, $23)`,
      [
        row.id,
        row.seq,
        row.occurred_at,
        row.actor_id,
        row.actor_type,
        row.user_id,
        row.session_id,
        row.action,
        row.resource_type,
        row.resource_id,
        row.outcome,
        row.reason,
        row.request_id,
        row.trace_id,
        row.method,
        row.path,
        row.status,
        row.ip,
        row.user_agent,
        row.context,
        row.changes,
        row.prev_hash,
        row.hash,
      ],
    );
  },

  /** The chain in order, one batch after `afterSeq`. */
  async chainAfter(q: Queryable, afterSeq: number, limit: number): Promise<AuditRow[]> {
    const { rows } = await q.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [afterSeq, limit],
    );
    return rows;
  },

  /** Newest first, filtered; values are always bound parameters. */
  async page(q: Queryable, query: AuditPageQuery): Promise<AuditRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (query.userId !== undefined) add('user_id = ?', query.userId);
    if (query.action !== undefined) add('action = ?', query.action);
    if (query.from !== undefined) add('occurred_at >= ?', query.from);
    if (query.to !== undefined) add('occurred_at <= ?', query.to);
    if (query.beforeSeq !== undefined) add('seq < ?', query.beforeSeq);
    params.push(query.limit);
    const { rows } = await q.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
    return rows;
  },
};

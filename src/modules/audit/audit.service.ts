import { v7 as uuidv7 } from 'uuid';
import { KeyDestroyedError, type KeyStore, SYSTEM_OWNER } from '../../platform/crypto/index.ts';
import type { Database, Queryable } from '../../platform/db/database.ts';
import { AppError } from '../../platform/http/problems.ts';
import { redactDeep } from '../../platform/logging.ts';
import { type AuditRow, chainHash, GENESIS_HASH } from './audit.chain.ts';
import { auditRepository as repo } from './audit.repository.ts';
import type {
  AuditActor,
  AuditEventInput,
  AuditListFilters,
  AuditPage,
  ChainVerification,
  RecordedAuditEvent,
} from './audit.types.ts';
import {
  PERSONAL_FIELDS as PERSONAL,
  type PersonalField,
  auditPurpose as purposeOf,
  toView,
} from './audit.view.ts';

/** pg_advisory_xact_lock key: one chain append at a time across every instance. */
const CHAIN_LOCK = 418_430_872_948;

function actorOf(event: AuditEventInput): AuditActor {
  if (event.actor) return event.actor;
  const ctx = event.request;
  if (ctx?.userId) return { id: ctx.userId, type: ctx.actorType, sessionId: ctx.sessionId };
  return ctx ? { id: 'anonymous', type: 'anonymous' } : { id: SYSTEM_OWNER, type: 'system' };
}

function encodeCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const seq = Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isSafeInteger(seq) || seq < 1) throw new AppError('invalid_cursor');
  return seq;
}

/**
 * The audit log: hash-chained, append-only, personal fields encrypted under the concerned
 * user's data key. Record inside the business transaction (pass `tx`) so the event commits or
 * rolls back with the change; record failures with `recordFailure` after the rollback.
 */
export class AuditService {
  /** Serialises appends within this process (PGlite: PostgreSQL advisory locks cannot help there). */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly keys: KeyStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(event: AuditEventInput, tx?: Queryable): Promise<RecordedAuditEvent> {
    if (!tx) return this.db.transaction((own) => this.record(event, own));
    const ctx = event.request;
    const actor = actorOf(event);
    const userId =
      event.userId !== undefined
        ? event.userId
        : actor.type === 'user' || actor.type === 'admin'
          ? actor.id
          : null;
    const id = uuidv7();
    // Encrypted before taking the chain lock, so the lock is held only for two short statements.
    const personal = await this.encryptPersonal(id, userId ?? SYSTEM_OWNER, tx, {
      ip: ctx?.ip ?? null,
      user_agent: ctx?.userAgent ?? null,
      context: event.context ? JSON.stringify(redactDeep(event.context)) : null,
      changes: event.changes ? JSON.stringify(redactDeep(event.changes)) : null,
    });
    const base = {
      id,
      occurred_at: this.now(),
      actor_id: actor.id,
      actor_type: actor.type,
      user_id: userId,
      session_id: actor.sessionId ?? ctx?.sessionId ?? null,
      action: event.action,
      resource_type: event.resourceType ?? null,
      resource_id: event.resourceId ?? null,
      outcome: event.outcome ?? 'success',
      reason: event.reason ?? null,
      request_id: ctx?.requestId ?? null,
      trace_id: ctx?.traceId ?? null,
      method: ctx?.method ?? null,
      path: ctx?.path ?? null,
      status: event.status ?? null,
      ...personal,
    };
    return this.append(tx, base);
  }

  /** Records a failed or denied attempt in its own transaction. Call it after the business transaction rolled back. */
  async recordFailure(event: AuditEventInput): Promise<RecordedAuditEvent> {
    return this.record({ ...event, outcome: event.outcome ?? 'failure' });
  }

  /**
   * Runs `fn` in a transaction that also records `event` on success; on failure the transaction
   * rolls back and a failure event (reason: the error's code or name) is recorded on its own.
   */
  async audited<T>(event: AuditEventInput, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction(async (tx) => {
        const result = await fn(tx);
        await this.record(event, tx);
        return result;
      });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const reason = typeof code === 'string' ? code : ((err as Error).name ?? 'error');
      await this.recordFailure({
        ...event,
        outcome: event.outcome === 'denied' ? 'denied' : 'failure',
        reason,
      });
      throw err;
    }
  }

  /** Walks the chain from the first event; reports the first row whose link or hash is wrong. */
  async verifyChain(batchSize = 500): Promise<ChainVerification> {
    let prevHash = GENESIS_HASH;
    let prevSeq = 0;
    let checked = 0;
    for (;;) {
      const rows = await repo.chainAfter(this.db, prevSeq, batchSize);
      for (const row of rows) {
        checked++;
        // A gap in seq means a row was removed; a bad link or hash means one was altered.
        const ok = row.seq === prevSeq + 1 && row.prev_hash === prevHash && chainHash(row) === row.hash;
        if (!ok) return { valid: false, checked, first_bad_id: row.id };
        prevHash = row.hash;
        prevSeq = row.seq;
      }
      if (rows.length < batchSize) return { valid: true, checked };
    }
  }

  /** Newest first; admin filters. Personal fields are decrypted, null where the key is gone. */
  async list(filters: AuditListFilters = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(filters.limit ?? 50, 1), 200);
    const rows = await repo.page(this.db, {
      userId: filters.userId,
      action: filters.action,
      from: filters.from,
      to: filters.to,
      beforeSeq: filters.cursor === undefined ? undefined : decodeCursor(filters.cursor),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const data = await Promise.all(page.map((row) => toView(this.keys, row)));
    return { data, next_cursor: rows.length > limit ? encodeCursor(page.at(-1)!.seq) : null };
  }

  /** A user's own activity (GET /users/me/activity). */
  async listForUser(userId: string, options: { limit?: number; cursor?: string } = {}): Promise<AuditPage> {
    return this.list({ userId, limit: options.limit, cursor: options.cursor });
  }

  private async append(tx: Queryable, base: Omit<AuditRow, 'seq' | 'prev_hash' | 'hash'>) {
    const run = async (): Promise<RecordedAuditEvent> => {
      if (this.db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
      const head = await repo.head(tx);
      const unhashed = { ...base, seq: (head?.seq ?? 0) + 1, prev_hash: head?.hash ?? GENESIS_HASH };
      const row: AuditRow = { ...unhashed, hash: chainHash(unhashed) };
      await repo.insert(tx, row);
      return { id: row.id, seq: row.seq, occurredAt: row.occurred_at, hash: row.hash };
    };
    // PostgreSQL: the advisory lock (held to commit) serialises; an in-process mutex there could
    // deadlock a transaction recording twice. PGlite: one connection, so a mutex suffices.
    if (this.db.kind === 'postgres') return run();
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => {});
    return result;
  }

  private async encryptPersonal(
    id: string,
    owner: string,
    tx: Queryable,
    fields: Record<PersonalField, string | null>,
  ): Promise<Record<PersonalField, Buffer | null>> {
    const out: Record<PersonalField, Buffer | null> = {
      ip: null,
      user_agent: null,
      context: null,
      changes: null,
    };
    try {
      for (const field of PERSONAL) {
        const value = fields[field];
        if (value !== null) out[field] = await this.keys.encrypt(owner, purposeOf(id, field), value, tx);
      }
    } catch (err) {
      // A shredded user's personal data must not be written at all, not even under another key.
      if (err instanceof KeyDestroyedError)
        return { ip: null, user_agent: null, context: null, changes: null };
      throw err;
    }
    return out;
  }
}

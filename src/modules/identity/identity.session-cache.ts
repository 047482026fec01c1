import type { Database } from '../../platform/db/index.ts';
import { identityRepository as repo, type SessionStateRow } from './identity.repository.ts';

export interface SessionCacheOptions {
  /** How long a looked-up state is trusted without asking the database again (safety net). */
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Entry {
  state: SessionStateRow | null;
  loadedAt: number;
}

/**
 * Session state for the per-request token check, kept in process so the hot path costs no
 * database round trip (ADR 0011). Logout, revocation and eviction invalidate entries explicitly;
 * the short TTL bounds staleness from writers this process does not see (another instance, SQL).
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<SessionStateRow | null>>();
  private readonly now: () => number;

  constructor(
    private readonly db: Database,
    private readonly options: SessionCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async get(sessionId: string): Promise<SessionStateRow | null> {
    const entry = this.entries.get(sessionId);
    if (entry && this.now() - entry.loadedAt < this.options.ttlMs) return entry.state;
    let pending = this.loading.get(sessionId);
    if (!pending) {
      pending = this.load(sessionId).finally(() => this.loading.delete(sessionId));
      this.loading.set(sessionId, pending);
    }
    return pending;
  }

  private async load(sessionId: string): Promise<SessionStateRow | null> {
    const loadedAt = this.now();
    const state = (await repo.sessionState(this.db, sessionId)) ?? null;
    // An invalidation that raced this load wins: do not store what may be stale.
    if (this.loading.has(sessionId)) {
      if (this.entries.size >= this.options.maxEntries) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      this.entries.set(sessionId, { state, loadedAt });
    }
    return state;
  }

  invalidate(...sessionIds: string[]): void {
    for (const id of sessionIds) {
      this.entries.delete(id);
      this.loading.delete(id);
    }
  }

  /** Every cached session of a user (disabled, roles or token version changed). */
  invalidateUser(userId: string): void {
    for (const [id, entry] of this.entries) if (entry.state?.user_id === userId) this.entries.delete(id);
  }
}

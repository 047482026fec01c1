export type ActorType = 'user' | 'system' | 'admin' | 'anonymous';
export type AuditOutcome = 'success' | 'failure' | 'denied';

/** Where and how a request came in; `auditContextFrom(request)` fills it. */
export interface AuditRequestContext {
  requestId: string | null;
  method: string | null;
  /** The path without its query string. */
  path: string | null;
  ip: string | null;
  userAgent: string | null;
  userId: string | null;
  sessionId: string | null;
  actorType: ActorType;
  traceId: string | null;
}

export interface AuditActor {
  id: string;
  type: ActorType;
  sessionId?: string | null;
}

export interface AuditEventInput {
  /** Dotted verb, e.g. `user.login`, `connection.created`. */
  action: string;
  outcome?: AuditOutcome;
  /** Who acted; defaults to the request's user, else `anonymous` (with a request) or `system`. */
  actor?: AuditActor;
  /**
   * The user the event concerns (listed in their activity; their data key encrypts the personal
   * fields). Defaults to the actor when the actor is a user or admin; null means system-owned.
   */
  userId?: string | null;
  resourceType?: string | null;
  resourceId?: string | null;
  reason?: string | null;
  status?: number | null;
  request?: AuditRequestContext;
  /** Free-form details; redacted (secret-named keys) and encrypted. */
  context?: Record<string, unknown> | null;
  /** Before/after of a change; redacted and encrypted. */
  changes?: { before?: unknown; after?: unknown } | null;
}

export interface RecordedAuditEvent {
  id: string;
  seq: number;
  occurredAt: Date;
  hash: string;
}

/** An event as the API shows it, personal fields decrypted (null once the key is destroyed). */
export interface AuditEventView {
  id: string;
  occurred_at: string;
  actor_id: string;
  actor_type: ActorType;
  user_id: string | null;
  session_id: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  outcome: AuditOutcome;
  reason: string | null;
  request_id: string | null;
  trace_id: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  ip: string | null;
  user_agent: string | null;
  context: Record<string, unknown> | null;
  changes: { before?: unknown; after?: unknown } | null;
}

export interface AuditPage {
  data: AuditEventView[];
  next_cursor: string | null;
}

export interface AuditListFilters {
  userId?: string;
  action?: string;
  from?: Date;
  to?: Date;
  limit?: number;
  cursor?: string;
}

export interface ChainVerification {
  valid: boolean;
  /** Rows examined, the first bad one included. */
  checked: number;
  first_bad_id?: string;
}

import { v7 as uuidv7 } from 'uuid';
import type { Database, Queryable } from '../../platform/db/index.ts';
import { AppError } from '../../platform/http/problems.ts';
import { type Mailer, renderMail } from '../../platform/mail/index.ts';
import type { AuditRequestContext, AuditService } from '../audit/index.ts';
import { effectiveRoles } from './identity.auth.ts';
import type { MfaCheck } from './identity.mfa.ts';
import type { PasswordHasher } from './identity.passwords.ts';
import { identityRepository as repo, type SessionRow, type UserRow } from './identity.repository.ts';
import type { SessionCache } from './identity.session-cache.ts';
import { type AccessTokens, opaqueToken, tokenHash } from './identity.tokens.ts';

export const SESSION_TTL_SECONDS = 30 * 24 * 3600;
export const PAIR_WINDOW_SECONDS = 15 * 60;
export const EMAIL_WINDOW_SECONDS = 3600;
/** Failures per email (from every IP) within the hour, as a multiple of LOGIN_MAX_FAILURES. */
export const EMAIL_CEILING_FACTOR = 10;

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
  session_id: string;
}

export interface SessionView {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  ip_address: string | null;
  user_agent: string | null;
  is_current: boolean;
}

export interface SessionServiceDeps {
  db: Database;
  audit: AuditService;
  mailer: Mailer;
  passwords: PasswordHasher;
  tokens: AccessTokens;
  cache: SessionCache;
  adminEmails: readonly string[];
  loginMaxFailures: number;
  sessionCap: number;
  refreshReuseLeewaySeconds: number;
  /** The second factor of a login (absent: no MFA). */
  mfa?: {
    check(userId: string, code: string | undefined, request: AuditRequestContext): Promise<MfaCheck>;
  };
  /** Refresh token hash → session, so the refresh rate limit can be keyed per session. */
  onRefreshIssued?: (refreshTokenHash: string, sessionId: string) => void;
}

function lockedOut(retryAfter: number): AppError {
  return new AppError('too_many_attempts', {
    retryAfter: Math.max(1, Math.ceil(retryAfter)),
    userAction: 'wait',
  });
}

/** Sign-in, token refresh and the user's own sessions. */
export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  async login(
    input: { email: string; password: string; totp_code?: string },
    request: AuditRequestContext,
  ): Promise<TokenPair> {
    const { db, loginMaxFailures: max } = this.deps;
    const email = input.email.trim().toLowerCase();
    const ip = request.ip ?? 'unknown';
    const counts = await repo.failureCounts(db, email, ip, PAIR_WINDOW_SECONDS, EMAIL_WINDOW_SECONDS);
    if (counts.pair >= max) {
      throw lockedOut(await repo.unlocksIn(db, email, ip, PAIR_WINDOW_SECONDS, max));
    }
    const ceiling = EMAIL_CEILING_FACTOR * max;
    if (counts.email >= ceiling) {
      throw lockedOut(await repo.unlocksIn(db, email, null, EMAIL_WINDOW_SECONDS, ceiling));
    }

    const user = await repo.userByEmail(db, email);
    const ok = user
      ? await this.deps.passwords.verify(user.password_hash, input.password)
      : await this.deps.passwords.verifyDummy(input.password);
    if (!user || !ok) {
      await this.recordFailure(email, ip, user, counts.email + 1 === ceiling, request);
      throw new AppError('invalid_credentials');
    }
    if (user.disabled_at) throw new AppError('account_disabled', { userAction: 'contact_support' });
    if (!user.email_verified_at) throw new AppError('email_not_verified', { userAction: 'verify_email' });
    // mfa_required is not a failed attempt; a wrong code is (API.md).
    const second = (await this.deps.mfa?.check(user.id, input.totp_code, request)) ?? 'off';
    if (second === 'required') throw new AppError('mfa_required');
    if (second === 'invalid') {
      await this.recordFailure(email, ip, user, counts.email + 1 === ceiling, request, 'invalid_mfa_code');
      throw new AppError('invalid_mfa_code');
    }
    if (this.deps.passwords.needsRehash(user.password_hash)) {
      await repo.setPasswordHash(db, user.id, await this.deps.passwords.hash(input.password));
    }
    return this.startSession(user, email, request);
  }

  private async recordFailure(
    email: string,
    ip: string,
    user: UserRow | undefined,
    reachedCeiling: boolean,
    request: AuditRequestContext,
    reason: 'invalid_credentials' | 'invalid_mfa_code' = 'invalid_credentials',
  ): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      await repo.recordFailure(tx, email, ip);
      // Told once, when this failure is the one that locks the email out from every IP.
      if (user && reachedCeiling) await this.deps.mailer.send(lockoutMail(user.email), { tx });
    });
    await this.deps.audit.recordFailure({
      action: 'session.created',
      reason,
      userId: user?.id ?? null,
      resourceType: 'user',
      resourceId: user?.id ?? null,
      request,
      status: 401,
    });
  }

  private async startSession(user: UserRow, email: string, request: AuditRequestContext): Promise<TokenPair> {
    const sessionId = uuidv7();
    const refresh = opaqueToken();
    const refreshHash = tokenHash(refresh);
    const evicted = await this.deps.db.transaction(async (tx) => {
      await repo.clearFailures(tx, email, request.ip ?? 'unknown');
      await repo.lockUser(tx, user.id);
      const gone = await repo.evictBeyond(tx, user.id, this.deps.sessionCap - 1);
      await repo.insertSession(tx, {
        id: sessionId,
        userId: user.id,
        ip: request.ip,
        userAgent: request.userAgent,
        ttlSeconds: SESSION_TTL_SECONDS,
      });
      await repo.insertRefreshToken(tx, refreshHash, sessionId, user.min_token_version);
      await this.deps.audit.record(
        {
          action: 'session.created',
          actor: { id: user.id, type: 'user', sessionId },
          userId: user.id,
          resourceType: 'session',
          resourceId: sessionId,
          request,
          context: gone.length > 0 ? { evicted_sessions: gone } : null,
        },
        tx,
      );
      return gone;
    });
    this.deps.cache.invalidate(...evicted);
    return this.pair(user, sessionId, refresh, refreshHash);
  }

  private pair(
    user: Pick<UserRow, 'id' | 'email' | 'email_verified_at' | 'roles' | 'min_token_version'>,
    sessionId: string,
    refresh: string,
    refreshHash: Buffer,
  ): TokenPair {
    this.deps.onRefreshIssued?.(refreshHash.toString('base64url'), sessionId);
    const access = this.deps.tokens.issue({
      sub: user.id,
      sid: sessionId,
      ver: user.min_token_version,
      roles: effectiveRoles(user, this.deps.adminEmails),
    });
    return {
      access_token: access,
      refresh_token: refresh,
      token_type: 'Bearer',
      expires_in: this.deps.tokens.ttlSeconds,
      session_id: sessionId,
    };
  }

  /** Rotates a refresh token; reuse after the leeway revokes the whole session. */
  async refresh(refreshToken: string, request: AuditRequestContext): Promise<TokenPair> {
    const hash = tokenHash(refreshToken);
    const next = opaqueToken();
    const nextHash = tokenHash(next);
    const outcome = await this.deps.db.transaction(async (tx) => {
      const row = await repo.refreshByHash(tx, hash);
      const live =
        row &&
        row.revoked_at === null &&
        row.expires_at.getTime() > Date.now() &&
        row.disabled_at === null &&
        row.issued_version >= row.min_token_version;
      if (!row || !live) return { kind: 'invalid' as const };
      if (row.rotated_at !== null) {
        if ((row.rotated_seconds_ago ?? 0) <= this.deps.refreshReuseLeewaySeconds) {
          return { kind: 'invalid' as const };
        }
        await repo.revokeSession(tx, row.user_id, row.session_id, 'refresh_token_reused');
        await this.audit(tx, 'token.reused', row.user_id, row.session_id, request, 'denied');
        return { kind: 'reused' as const, sessionId: row.session_id };
      }
      if (!(await repo.rotate(tx, hash, nextHash))) return { kind: 'invalid' as const };
      await repo.insertRefreshToken(tx, nextHash, row.session_id, row.min_token_version);
      await repo.touchSession(tx, row.session_id);
      await this.audit(tx, 'token.refreshed', row.user_id, row.session_id, request, 'success');
      return { kind: 'ok' as const, row };
    });
    if (outcome.kind === 'reused') {
      this.deps.cache.invalidate(outcome.sessionId);
      throw new AppError('refresh_token_reused', { userAction: 'reauthenticate' });
    }
    if (outcome.kind === 'invalid')
      throw new AppError('invalid_refresh_token', { userAction: 'reauthenticate' });
    const { row } = outcome;
    return this.pair({ ...row, id: row.user_id }, row.session_id, next, nextHash);
  }

  private async audit(
    tx: Queryable,
    action: string,
    userId: string,
    sessionId: string,
    request: AuditRequestContext,
    outcome: 'success' | 'denied',
  ): Promise<void> {
    await this.deps.audit.record(
      {
        action,
        outcome,
        actor: { id: userId, type: 'user', sessionId },
        userId,
        resourceType: 'session',
        resourceId: sessionId,
        request,
      },
      tx,
    );
  }

  async list(
    userId: string,
    currentSessionId: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ data: SessionView[]; next_cursor: string | null; has_more: boolean }> {
    const before = cursor === undefined ? null : decodeCursor(cursor);
    const rows = await repo.listSessions(this.deps.db, userId, limit + 1, before);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return {
      data: page.map((row) => sessionView(row, currentSessionId)),
      next_cursor: hasMore ? encodeCursor(page[page.length - 1]!.id) : null,
      has_more: hasMore,
    };
  }

  async get(userId: string, currentSessionId: string, sessionId: string): Promise<SessionView> {
    const row = await repo.sessionOf(this.deps.db, userId, sessionId);
    if (!row) throw new AppError('not_found');
    return sessionView(row, currentSessionId);
  }

  /** Revokes one of the user's own sessions (404 for anyone else's). */
  async revoke(
    userId: string,
    sessionId: string,
    reason: string,
    request: AuditRequestContext,
  ): Promise<void> {
    const done = await this.deps.db.transaction(async (tx) => {
      if (!(await repo.revokeSession(tx, userId, sessionId, reason))) return false;
      await this.deps.audit.record(
        {
          action: 'session.revoked',
          userId,
          resourceType: 'session',
          resourceId: sessionId,
          reason,
          request,
        },
        tx,
      );
      return true;
    });
    this.deps.cache.invalidate(sessionId);
    if (!done) throw new AppError('not_found');
  }

  async revokeOthers(
    userId: string,
    currentSessionId: string,
    request: AuditRequestContext,
  ): Promise<number> {
    const ids = await this.deps.db.transaction(async (tx) => {
      const revoked = await repo.revokeOthers(tx, userId, currentSessionId, 'revoked_by_user');
      if (revoked.length > 0) {
        await this.deps.audit.record(
          {
            action: 'session.revoked',
            userId,
            resourceType: 'session',
            reason: 'revoked_by_user',
            request,
            context: { sessions: revoked },
          },
          tx,
        );
      }
      return revoked;
    });
    this.deps.cache.invalidate(...ids);
    return ids.length;
  }
}

function sessionView(row: SessionRow, currentSessionId: string): SessionView {
  return {
    id: row.id,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
    ip_address: row.ip_address,
    user_agent: row.user_agent,
    is_current: row.id === currentSessionId,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!UUID.test(id)) throw new AppError('invalid_cursor');
  return id;
}

function lockoutMail(to: string) {
  return {
    to,
    ...renderMail({
      subject: 'Many failed sign-ins to your Dashtam account',
      paragraphs: [
        'Someone tried to sign in to your Dashtam account with a wrong password many times in the last hour.',
        'Sign-in to your account is paused for a while. If this was not you, your password held: consider changing it to a long, unique one.',
      ],
      footer: 'You get this email once for each such episode.',
    }),
  };
}

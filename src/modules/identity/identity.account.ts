import type { Database } from '../../platform/db/index.ts';
import { sqlState } from '../../platform/db/index.ts';
import { AppError } from '../../platform/http/problems.ts';
import {
  emailChangeMail,
  type Mailer,
  passwordChangedMail,
  passwordResetMail,
} from '../../platform/mail/index.ts';
import type { AuditRequestContext, AuditService } from '../audit/index.ts';
import { accountRepository as account } from './identity.account.repository.ts';
import { assertStrongPassword, type PasswordHasher } from './identity.passwords.ts';
import { identityRepository as repo, type UserRow } from './identity.repository.ts';
import type { SessionCache } from './identity.session-cache.ts';
import { opaqueToken, tokenHash } from './identity.tokens.ts';

export const PASSWORD_RESET_TTL_SECONDS = 15 * 60;
export const EMAIL_CHANGE_TTL_SECONDS = 24 * 3600;

export interface AccountServiceDeps {
  db: Database;
  audit: AuditService;
  mailer: Mailer;
  passwords: PasswordHasher;
  cache: SessionCache;
  publicBaseUrl: string;
}

/** Password change and reset, email change: the credentials of an existing account. */
export class AccountService {
  constructor(private readonly deps: AccountServiceDeps) {}

  /** The signed-in user when `password` is theirs; 401 invalid_credentials otherwise (audited). */
  private async checkPassword(
    userId: string,
    password: string,
    action: string,
    request: AuditRequestContext,
  ): Promise<UserRow> {
    const user = await repo.userById(this.deps.db, userId);
    if (!user) throw new AppError('unauthorized');
    if (!(await this.deps.passwords.verify(user.password_hash, password))) {
      await this.deps.audit.recordFailure({
        action,
        reason: 'invalid_credentials',
        userId,
        resourceType: 'user',
        resourceId: userId,
        request,
        status: 401,
      });
      throw new AppError('invalid_credentials');
    }
    return user;
  }

  /** Sets a new password; every other session of the user is revoked. */
  async changePassword(
    userId: string,
    sessionId: string,
    input: { current_password: string; new_password: string },
    request: AuditRequestContext,
  ): Promise<void> {
    const user = await this.checkPassword(userId, input.current_password, 'user.password_changed', request);
    await assertStrongPassword(input.new_password, 'new_password');
    const passwordHash = await this.deps.passwords.hash(input.new_password);
    const revoked = await this.deps.db.transaction(async (tx) => {
      await repo.setPasswordHash(tx, userId, passwordHash);
      await account.retireTokens(tx, userId, 'password_reset');
      const ids = await repo.revokeOthers(tx, userId, sessionId, 'password_changed');
      await this.deps.mailer.send({ to: user.email, ...passwordChangedMail() }, { tx });
      await this.deps.audit.record(
        {
          action: 'user.password_changed',
          userId,
          resourceType: 'user',
          resourceId: userId,
          request,
          context: ids.length > 0 ? { revoked_sessions: ids } : null,
        },
        tx,
      );
      return ids;
    });
    this.deps.cache.invalidate(...revoked);
  }

  /** Mails a reset link to an existing, enabled account; silent otherwise (same answer). */
  async requestPasswordReset(email: string, request: AuditRequestContext): Promise<void> {
    const user = await repo.userByEmail(this.deps.db, email.trim());
    if (!user || user.disabled_at) return;
    const token = opaqueToken();
    const link = `${this.deps.publicBaseUrl}/reset-password?token=${encodeURIComponent(token)}`;
    await this.deps.db.transaction(async (tx) => {
      await account.retireTokens(tx, user.id, 'password_reset');
      await repo.insertOneTimeToken(tx, {
        hash: tokenHash(token),
        userId: user.id,
        purpose: 'password_reset',
        ttlSeconds: PASSWORD_RESET_TTL_SECONDS,
      });
      const mail = passwordResetMail(link, PASSWORD_RESET_TTL_SECONDS / 60);
      await this.deps.mailer.send({ to: user.email, ...mail }, { tx });
      await this.deps.audit.record(
        {
          action: 'user.password_reset_requested',
          actor: { id: user.id, type: 'user' },
          userId: user.id,
          resourceType: 'user',
          resourceId: user.id,
          request,
        },
        tx,
      );
    });
  }

  /** Sets a new password with an emailed token; every session of the user is revoked. */
  async resetPassword(input: { token: string; new_password: string }, request: AuditRequestContext) {
    // Checked first: a weak password leaves the token usable.
    await assertStrongPassword(input.new_password, 'new_password');
    const passwordHash = await this.deps.passwords.hash(input.new_password);
    const outcome = await this.deps.db.transaction(async (tx) => {
      const owner = await repo.consumeOneTimeToken(tx, tokenHash(input.token), 'password_reset');
      if (!owner) return undefined;
      const user = await repo.userById(tx, owner);
      if (!user) return undefined;
      await repo.setPasswordHash(tx, owner, passwordHash);
      const ids = await account.revokeAll(tx, owner, 'password_reset');
      await this.deps.mailer.send({ to: user.email, ...passwordChangedMail() }, { tx });
      await this.deps.audit.record(
        {
          action: 'user.password_reset',
          actor: { id: owner, type: 'user' },
          userId: owner,
          resourceType: 'user',
          resourceId: owner,
          request,
          context: ids.length > 0 ? { revoked_sessions: ids } : null,
        },
        tx,
      );
      return ids;
    });
    if (!outcome) throw new AppError('invalid_token');
    this.deps.cache.invalidate(...outcome);
  }

  /** Mails a confirmation link to the new address; the address changes once it is confirmed. */
  async requestEmailChange(
    userId: string,
    input: { new_email: string; password: string },
    request: AuditRequestContext,
  ): Promise<void> {
    await this.checkPassword(userId, input.password, 'user.email_change_requested', request);
    const newEmail = input.new_email.trim();
    if (await repo.userByEmail(this.deps.db, newEmail)) throw new AppError('email_taken');
    const token = opaqueToken();
    const link = `${this.deps.publicBaseUrl}/verify-email?token=${encodeURIComponent(token)}`;
    await this.deps.db.transaction(async (tx) => {
      await account.retireTokens(tx, userId, 'email_change');
      await account.insertEmailChangeToken(tx, {
        hash: tokenHash(token),
        userId,
        newEmail,
        ttlSeconds: EMAIL_CHANGE_TTL_SECONDS,
      });
      const mail = emailChangeMail(link, EMAIL_CHANGE_TTL_SECONDS / 3600);
      await this.deps.mailer.send({ to: newEmail, ...mail }, { tx });
      await this.deps.audit.record(
        {
          action: 'user.email_change_requested',
          userId,
          resourceType: 'user',
          resourceId: userId,
          request,
          context: { new_email: newEmail },
        },
        tx,
      );
    });
  }
}

/**
 * Confirms an emailed token of POST /email-verifications: an email_verification token verifies
 * the address, an email_change token replaces it (409 email_taken when taken meanwhile, the token
 * left unused). The user whose state changed, or undefined for an unknown, used or expired token.
 */
export async function confirmEmailToken(
  deps: { db: Database; audit: AuditService },
  token: string,
  request: AuditRequestContext,
): Promise<string | undefined> {
  try {
    return await deps.db.transaction(async (tx) => {
      const found = await account.consumeAny(tx, tokenHash(token), ['email_verification', 'email_change']);
      if (!found) return undefined;
      const owner = found.user_id;
      let changes: { before: { email: string }; after: { email: string } } | null = null;
      if (found.purpose === 'email_change' && found.new_email) {
        const before = await repo.userById(tx, owner);
        await account.changeEmail(tx, owner, found.new_email);
        changes = { before: { email: before?.email ?? '' }, after: { email: found.new_email } };
      } else {
        await repo.markEmailVerified(tx, owner);
      }
      await deps.audit.record(
        {
          action: changes ? 'user.email_changed' : 'user.email_verified',
          actor: { id: owner, type: 'user' },
          userId: owner,
          resourceType: 'user',
          resourceId: owner,
          request,
          changes,
        },
        tx,
      );
      return owner;
    });
  } catch (err) {
    if (sqlState(err) === '23505') throw new AppError('email_taken');
    throw err;
  }
}

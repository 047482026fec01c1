import { v7 as uuidv7 } from 'uuid';
import type { Database, Queryable } from '../../platform/db/index.ts';
import { sqlState } from '../../platform/db/index.ts';
import { AppError } from '../../platform/http/problems.ts';
import { type Mailer, verifyEmailMail } from '../../platform/mail/index.ts';
import type { AuditRequestContext, AuditService } from '../audit/index.ts';
import { confirmEmailToken } from './identity.account.ts';
import { effectiveRoles } from './identity.auth.ts';
import { mfaRepository } from './identity.mfa.repository.ts';
import { assertStrongPassword, type PasswordHasher } from './identity.passwords.ts';
import { identityRepository as repo, type UserRow } from './identity.repository.ts';
import { opaqueToken, tokenHash } from './identity.tokens.ts';

export const EMAIL_VERIFICATION_TTL_SECONDS = 24 * 3600;

export interface UserView {
  id: string;
  email: string;
  name: string | null;
  email_verified: boolean;
  mfa_enabled: boolean;
  roles: string[];
  created_at: string;
}

export interface UserServiceDeps {
  db: Database;
  audit: AuditService;
  mailer: Mailer;
  passwords: PasswordHasher;
  publicBaseUrl: string;
  adminEmails: readonly string[];
  /** Called when a user's effective state changed (their cached sessions must be re-read). */
  onUserChanged?: (userId: string) => void;
}

/** Registration, email verification and the user's own profile. */
export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  view(user: UserRow, mfaEnabled = false): UserView {
    return {
      id: user.id,
      email: user.email,
      name: user.name,
      email_verified: user.email_verified_at !== null,
      mfa_enabled: mfaEnabled,
      roles: effectiveRoles(user, this.deps.adminEmails),
      created_at: user.created_at.toISOString(),
    };
  }

  async register(
    input: { email: string; password: string; name?: string | null },
    request: AuditRequestContext,
  ): Promise<UserView> {
    await assertStrongPassword(input.password);
    const passwordHash = await this.deps.passwords.hash(input.password);
    const id = uuidv7();
    try {
      const user = await this.deps.db.transaction(async (tx) => {
        const row = await repo.insertUser(tx, {
          id,
          email: input.email.trim(),
          name: input.name ?? null,
          passwordHash,
        });
        await this.sendVerification(tx, row);
        await this.deps.audit.record(
          {
            action: 'user.registered',
            actor: { id, type: 'user' },
            userId: id,
            resourceType: 'user',
            resourceId: id,
            request,
          },
          tx,
        );
        return row;
      });
      return this.view(user);
    } catch (err) {
      if (sqlState(err) === '23505') throw new AppError('email_taken');
      throw err;
    }
  }

  private async sendVerification(tx: Queryable, user: UserRow): Promise<void> {
    const token = opaqueToken();
    await repo.insertOneTimeToken(tx, {
      hash: tokenHash(token),
      userId: user.id,
      purpose: 'email_verification',
      ttlSeconds: EMAIL_VERIFICATION_TTL_SECONDS,
    });
    const link = `${this.deps.publicBaseUrl}/verify-email?token=${encodeURIComponent(token)}`;
    await this.deps.mailer.send({ to: user.email, ...verifyEmailMail(link) }, { tx });
  }

  /**
   * Consumes a verification token (400 invalid_token for unknown, used and expired alike): it
   * verifies the address, or replaces it when the token came from an email change.
   */
  async verifyEmail(token: string, request: AuditRequestContext): Promise<void> {
    const userId = await confirmEmailToken(this.deps, token, request);
    if (!userId) throw new AppError('invalid_token');
    this.deps.onUserChanged?.(userId);
  }

  /** Sends a new link to an existing, unverified, enabled account; silent otherwise (same answer). */
  async resendVerification(email: string): Promise<void> {
    const user = await repo.userByEmail(this.deps.db, email.trim());
    if (!user || user.email_verified_at || user.disabled_at) return;
    await this.deps.db.transaction((tx) => this.sendVerification(tx, user));
  }

  async me(userId: string): Promise<UserView> {
    const user = await repo.userById(this.deps.db, userId);
    if (!user) throw new AppError('unauthorized');
    return this.view(user, await mfaRepository.enabled(this.deps.db, userId));
  }

  async updateMe(userId: string, changes: { name?: string | null }, request: AuditRequestContext) {
    if (changes.name === undefined) return this.me(userId);
    const user = await this.deps.db.transaction(async (tx) => {
      const before = await repo.userById(tx, userId);
      const row = await repo.updateName(tx, userId, changes.name ?? null);
      if (!row || !before) throw new AppError('unauthorized');
      await this.deps.audit.record(
        {
          action: 'user.updated',
          userId,
          resourceType: 'user',
          resourceId: userId,
          request,
          changes: { before: { name: before.name }, after: { name: row.name } },
        },
        tx,
      );
      return row;
    });
    return this.view(user, await mfaRepository.enabled(this.deps.db, userId));
  }
}

import { createHash, randomBytes } from 'node:crypto';
import type { KeyStore } from '../../platform/crypto/index.ts';
import type { Database, Queryable } from '../../platform/db/index.ts';
import { AppError } from '../../platform/http/problems.ts';
import type { AuditRequestContext, AuditService } from '../audit/index.ts';
import { mfaRepository as mfa } from './identity.mfa.repository.ts';
import type { PasswordHasher } from './identity.passwords.ts';
import { identityRepository as repo } from './identity.repository.ts';
import { base32Encode, matchTotp, newTotpSecret, otpauthUri } from './identity.totp.ts';

export const RECOVERY_CODE_COUNT = 10;
export const TOTP_ISSUER = 'Dashtam';
/** KeyStore purpose binding the encrypted TOTP secret to its use (and, by the owner, to its user). */
const SECRET_PURPOSE = 'identity.totp_secret';

export interface MfaServiceDeps {
  db: Database;
  audit: AuditService;
  keys: KeyStore;
  passwords: PasswordHasher;
  now?: () => number;
}

/** What a login's `totp_code` means for a user. */
export type MfaCheck = 'off' | 'ok' | 'required' | 'invalid';

/** Recovery codes: 10 base32 characters shown as `xxxxx-xxxxx`, matched without case or dashes. */
function newRecoveryCode(): string {
  const text = base32Encode(randomBytes(7)).slice(0, 10).toLowerCase();
  return `${text.slice(0, 5)}-${text.slice(5)}`;
}

function recoveryHash(userId: string, code: string): Buffer {
  const normal = code.replace(/[\s-]/g, '').toLowerCase();
  return createHash('sha256').update(`${userId}:${normal}`).digest();
}

function audit(
  action: string,
  userId: string,
  request: AuditRequestContext,
  context?: Record<string, unknown>,
) {
  return { action, userId, resourceType: 'user', resourceId: userId, request, context: context ?? null };
}

/** TOTP two-factor authentication (RFC 6238) with one-time recovery codes (ADR 0011). */
export class MfaService {
  private readonly now: () => number;

  constructor(private readonly deps: MfaServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  enabled(userId: string): Promise<boolean> {
    return mfa.enabled(this.deps.db, userId);
  }

  /** A new pending secret (replacing a pending one); 409 mfa_already_enabled once confirmed. */
  async enroll(
    userId: string,
    request: AuditRequestContext,
  ): Promise<{ secret: string; otpauth_uri: string }> {
    const user = await repo.userById(this.deps.db, userId);
    if (!user) throw new AppError('unauthorized');
    const secret = newTotpSecret();
    const saved = await this.deps.db.transaction(async (tx) => {
      const ciphertext = await this.deps.keys.encrypt(userId, SECRET_PURPOSE, secret, tx);
      if (!(await mfa.savePending(tx, userId, ciphertext))) return false;
      await this.deps.audit.record(audit('mfa.totp_enrollment_started', userId, request), tx);
      return true;
    });
    if (!saved) throw new AppError('mfa_already_enabled');
    return { secret: base32Encode(secret), otpauth_uri: otpauthUri(TOTP_ISSUER, user.email, secret) };
  }

  /** Confirms a pending enrolment with a current code; the new recovery codes (shown once). */
  async confirm(userId: string, code: string, request: AuditRequestContext): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const outcome = await this.deps.db.transaction(async (tx) => {
      const row = await mfa.totpOf(tx, userId);
      if (row?.confirmed_at) return 'enabled' as const;
      if (!row) return 'invalid' as const;
      const secret = await this.deps.keys.decrypt(userId, SECRET_PURPOSE, row.secret_ciphertext, tx);
      const step = matchTotp(secret, code.trim(), this.now() / 1000, row.last_used_step);
      if (step === null || !(await mfa.useStep(tx, userId, step, true))) return 'invalid' as const;
      await mfa.replaceRecoveryCodes(
        tx,
        userId,
        codes.map((c) => recoveryHash(userId, c)),
      );
      await this.deps.audit.record(audit('mfa.totp_enabled', userId, request), tx);
      return 'ok' as const;
    });
    if (outcome === 'enabled') throw new AppError('mfa_already_enabled');
    if (outcome === 'invalid') throw new AppError('invalid_mfa_code', { status: 400 });
    return codes;
  }

  /**
   * Checks a login's code for a user: `off` without MFA, `required` when none was sent, `ok` for
   * a current TOTP code not used before or an unused recovery code (then used), else `invalid`.
   */
  async check(
    userId: string,
    code: string | undefined,
    request?: AuditRequestContext,
    tx?: Queryable,
  ): Promise<MfaCheck> {
    const q = tx ?? this.deps.db;
    const row = await mfa.totpOf(q, userId);
    if (!row?.confirmed_at) return 'off';
    if (code === undefined || code.trim() === '') return 'required';
    const trimmed = code.trim();
    if (/^\d{6}$/.test(trimmed)) {
      const secret = await this.deps.keys.decrypt(userId, SECRET_PURPOSE, row.secret_ciphertext, tx);
      const step = matchTotp(secret, trimmed, this.now() / 1000, row.last_used_step);
      return step !== null && (await mfa.useStep(q, userId, step, false)) ? 'ok' : 'invalid';
    }
    if (!(await mfa.useRecoveryCode(q, userId, recoveryHash(userId, trimmed)))) return 'invalid';
    if (request) await this.deps.audit.record(audit('mfa.recovery_code_used', userId, request), tx);
    return 'ok';
  }

  /** Turns MFA off: needs the password and a current code (or a recovery code). */
  async disable(
    userId: string,
    input: { password: string; totp_code: string },
    request: AuditRequestContext,
  ): Promise<void> {
    const user = await repo.userById(this.deps.db, userId);
    if (!user) throw new AppError('unauthorized');
    if (!(await this.deps.passwords.verify(user.password_hash, input.password))) {
      await this.deps.audit.recordFailure({ ...audit('mfa.totp_disabled', userId, request), status: 401 });
      throw new AppError('invalid_credentials');
    }
    const outcome = await this.deps.db.transaction(async (tx) => {
      const result = await this.check(userId, input.totp_code, request, tx);
      if (result === 'off') return 'off' as const;
      if (result !== 'ok') return 'invalid' as const;
      await mfa.remove(tx, userId);
      await this.deps.audit.record(audit('mfa.totp_disabled', userId, request), tx);
      return 'ok' as const;
    });
    if (outcome === 'off')
      throw new AppError('not_found', { detail: 'Two-factor authentication is not on.' });
    if (outcome === 'invalid') {
      await this.deps.audit.recordFailure({ ...audit('mfa.totp_disabled', userId, request), status: 401 });
      throw new AppError('invalid_mfa_code');
    }
  }
}

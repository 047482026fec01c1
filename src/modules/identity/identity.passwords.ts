import { hash, verify } from '@node-rs/argon2';
import { AppError } from '../../platform/http/problems.ts';

/** OWASP argon2id parameters (DESIGN.md): 19 MiB, 2 passes, 1 lane. */
export const ARGON2_PARAMS = { algorithm: 2 /* Argon2id */, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;

let common: Promise<Set<string>> | undefined;

/** The bundled list of ~49k common passwords (zxcvbn-ts), loaded once on first use. */
function commonPasswords(): Promise<Set<string>> {
  common ??= import('@zxcvbn-ts/language-common').then(
    ({ dictionary }) => new Set(dictionary['passwords-common'].map((p) => p.toLowerCase())),
  );
  return common;
}

/** Throws 422 weak_password unless the password has 12–128 characters and is not a common one. */
export async function assertStrongPassword(password: string, field = 'password'): Promise<void> {
  const length = [...password].length;
  let message: string | undefined;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
    message = `must have ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`;
  } else if ((await commonPasswords()).has(password.toLowerCase())) {
    message = 'is a commonly used password';
  }
  if (message) {
    throw new AppError('weak_password', {
      detail: `The password ${message}.`,
      errors: [{ field, code: 'weak_password', message }],
    });
  }
}

/** argon2id hashing off the event loop (libuv thread pool). */
export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  constructor(private readonly params = ARGON2_PARAMS) {}

  hash(password: string): Promise<string> {
    return hash(password, this.params);
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }

  /**
   * Spends the time of a real verification when there is no user, so timing tells nothing: the
   * same verify() against a hash made with today's parameters.
   */
  async verifyDummy(password: string): Promise<false> {
    await this.verify(await this.dummyHash(), password);
    return false;
  }

  dummyHash(): Promise<string> {
    this.dummy ??= this.hash('dashtam-dummy-password-for-timing');
    return this.dummy;
  }

  /** True when the stored hash was made with other parameters than today's. */
  needsRehash(passwordHash: string): boolean {
    const { memoryCost: m, timeCost: t, parallelism: p } = this.params;
    return !passwordHash.startsWith(`$argon2id$v=19$m=${m},t=${t},p=${p}$`);
  }
}

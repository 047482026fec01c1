/**
 * Typed failures of the key store. Callers tell "this owner was shredded" (expected after an
 * account deletion) apart from "this ciphertext is not what we wrote" (tampering or a copy).
 */
export type CryptoErrorCode = 'key_destroyed' | 'decryption_failed' | 'master_key_unavailable';

export class CryptoError extends Error {
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CryptoError';
  }
}

/** The owner's data key was destroyed (crypto-shredded): their data can never be read again. */
export class KeyDestroyedError extends CryptoError {
  constructor(readonly ownerId: string) {
    super('key_destroyed', `The data key of owner "${ownerId}" was destroyed`);
    this.name = 'KeyDestroyedError';
  }
}

/** Malformed, tampered with, or bound to another owner/purpose/row than the one asked for. */
export class DecryptionError extends CryptoError {
  constructor(reason: string) {
    super('decryption_failed', `Cannot decrypt: ${reason}`);
    this.name = 'DecryptionError';
  }
}

/** A data key is wrapped by a master key missing from ENCRYPTION_KEYS, or the key under that kid changed. */
export class MasterKeyError extends CryptoError {
  constructor(message: string) {
    super('master_key_unavailable', message);
    this.name = 'MasterKeyError';
  }
}

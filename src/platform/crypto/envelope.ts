import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KeyMaterial } from '../../config/secrets.ts';
import { DecryptionError } from './errors.ts';

/**
 * The ciphertext format, pure functions only (no I/O):
 *   version (1 byte) | key ref (16 bytes, the data key's uuid) | iv (12) | tag (16) | ciphertext
 * The associated data binds it to its owner and purpose, so a ciphertext copied to another
 * owner, purpose or row (when the purpose names the row) fails authentication.
 */
export const FORMAT_VERSION = 1;
export const KEY_REF_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const HEADER_BYTES = 1 + KEY_REF_BYTES + IV_BYTES + TAG_BYTES;
export const DATA_KEY_BYTES = 32;
const ALGORITHM = 'aes-256-gcm';

/** Length-prefixed parts, so ("ab","c") and ("a","bc") never produce the same associated data. */
function associatedData(parts: readonly (string | Buffer)[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    chunks.push(length, bytes);
  }
  return Buffer.concat(chunks);
}

export function dataAad(keyRef: Buffer, ownerId: string, purpose: string): Buffer {
  return associatedData(['dashtam/data/v1', Buffer.from([FORMAT_VERSION]), keyRef, ownerId, purpose]);
}

export function seal(
  key: Buffer,
  keyRef: Buffer,
  ownerId: string,
  purpose: string,
  plaintext: Buffer,
): Buffer {
  if (keyRef.length !== KEY_REF_BYTES) throw new Error('key ref must be 16 bytes');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(dataAad(keyRef, ownerId, purpose));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT_VERSION]), keyRef, iv, cipher.getAuthTag(), body]);
}

/** Version and key ref, read before the key is looked up. */
export function parseHeader(ciphertext: Uint8Array): { version: number; keyRef: Buffer } {
  const buf = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
  if (buf.length < HEADER_BYTES) throw new DecryptionError('ciphertext too short');
  const version = buf[0]!;
  if (version !== FORMAT_VERSION) throw new DecryptionError(`unknown format version ${version}`);
  return { version, keyRef: buf.subarray(1, 1 + KEY_REF_BYTES) };
}

export function open(key: Buffer, ciphertext: Uint8Array, ownerId: string, purpose: string): Buffer {
  const buf = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
  const { keyRef } = parseHeader(buf);
  const ivStart = 1 + KEY_REF_BYTES;
  const iv = buf.subarray(ivStart, ivStart + IV_BYTES);
  const tag = buf.subarray(ivStart + IV_BYTES, HEADER_BYTES);
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(dataAad(keyRef, ownerId, purpose));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(buf.subarray(HEADER_BYTES)), decipher.final()]);
  } catch {
    throw new DecryptionError('authentication failed (tampered, or bound to another owner or purpose)');
  }
}

function wrapAad(master: KeyMaterial, ownerId: string, keyId: string): Buffer {
  return associatedData(['dashtam/dek/v1', master.kid, ownerId, keyId]);
}

/** Wraps a data key under a master key: iv | tag | encrypted key, bound to owner, key id and kid. */
export function wrapKey(master: KeyMaterial, dataKey: Buffer, ownerId: string, keyId: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, master.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(wrapAad(master, ownerId, keyId));
  const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** Returns null when the wrapped key does not authenticate (wrong master key, or a row copied). */
export function unwrapKey(
  master: KeyMaterial,
  wrapped: Uint8Array,
  ownerId: string,
  keyId: string,
): Buffer | null {
  const buf = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
  if (buf.length !== IV_BYTES + TAG_BYTES + DATA_KEY_BYTES) return null;
  try {
    const decipher = createDecipheriv(ALGORITHM, master.key, buf.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(wrapAad(master, ownerId, keyId));
    decipher.setAuthTag(buf.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(buf.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

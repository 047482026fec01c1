import { createHmac, randomBytes } from 'node:crypto';
import { parse as parseUuid, v7 as uuidv7 } from 'uuid';
import type { KeyMaterial } from '../../config/secrets.ts';
import type { Database, Queryable } from '../db/database.ts';
import { DATA_KEY_BYTES, open, parseHeader, seal, unwrapKey, wrapKey } from './envelope.ts';
import { DecryptionError, KeyDestroyedError, MasterKeyError } from './errors.ts';
import { KeyCache } from './key-cache.ts';
import { keyStoreRepository as repo } from './key-store.repository.ts';

/** The owner of data that belongs to no user (anonymous idempotency records, system audit events). */
export const SYSTEM_OWNER = 'system';

export interface KeyStoreOptions {
  /** Unwrapped data keys kept in memory (LRU). */
  cacheSize?: number;
  /** How long an unwrapped key may be reused before it is read again (bounds cross-instance staleness). */
  cacheTtlMs?: number;
  now?: () => number;
}

export interface RewrapResult {
  /** Data keys re-wrapped to the active master key by this run. */
  rewrapped: number;
  /** Keys that could not be re-wrapped: their master key is missing or does not unwrap them. */
  failed: number;
  missingMasterKids: string[];
  /** Afterwards: live keys under the active master key, live keys still under another, destroyed keys. */
  current: number;
  remaining: number;
  destroyed: number;
}

export interface MasterKeyInfo {
  kid: string;
  active: boolean;
  /** When this kid was first registered by `init()`; null if it never was. */
  firstSeenAt: Date | null;
}

interface UnwrappedKey {
  keyRef: Buffer;
  key: Buffer;
}

function validate(ownerId: string, purpose: string): void {
  if (ownerId.length === 0 || ownerId.length > 200) throw new TypeError('ownerId must be 1-200 characters');
  if (purpose.length === 0 || purpose.length > 500) throw new TypeError('purpose must be 1-500 characters');
}

/** A key check value: proves a kid still names the same key without storing anything usable. */
function fingerprint(master: KeyMaterial): string {
  return createHmac('sha256', master.key).update('dashtam/master-key-check/v1').digest('hex').slice(0, 32);
}

/**
 * Envelope encryption (ADR 0005): one random AES-256 data key per owner, stored wrapped by the
 * active master key in `keystore.data_keys`. Pass the business transaction as `tx` when inside
 * one: PGlite has one connection, so a query outside the open transaction would wait forever.
 */
export class KeyStore {
  private readonly active: KeyMaterial;
  private readonly byKid: Map<string, KeyMaterial>;
  private readonly cache: KeyCache<UnwrappedKey>;
  /** Owners whose key a still-open transaction created: not cached until known committed. */
  private readonly createdIn = new WeakMap<Queryable, Set<string>>();

  constructor(
    private readonly db: Database,
    keyring: readonly KeyMaterial[],
    options: KeyStoreOptions = {},
  ) {
    if (keyring.length === 0) throw new MasterKeyError('The master keyring is empty (ENCRYPTION_KEYS)');
    for (const k of keyring) {
      if (k.key.length !== 32) throw new MasterKeyError(`Master key "${k.kid}" must be 32 bytes`);
    }
    this.active = keyring[0]!;
    this.byKid = new Map(keyring.map((k) => [k.kid, k]));
    this.cache = new KeyCache(options.cacheSize ?? 1000, options.cacheTtlMs ?? 60_000, options.now);
  }

  get activeKid(): string {
    return this.active.kid;
  }

  /** Registers the keyring's kids and refuses a kid whose key material changed since first seen. */
  async init(): Promise<void> {
    for (const master of this.byKid.values()) {
      await repo.registerMaster(this.db, master.kid, fingerprint(master));
    }
    for (const row of await repo.masters(this.db, [...this.byKid.keys()])) {
      if (row.fingerprint !== fingerprint(this.byKid.get(row.kid)!)) {
        throw new MasterKeyError(
          `ENCRYPTION_KEYS key "${row.kid}" is not the key first used under that id; give a new key a new kid`,
        );
      }
    }
  }

  /** The keyring in order (first active) with when each kid was first registered. */
  async masterKeys(): Promise<MasterKeyInfo[]> {
    const rows = await repo.masters(this.db, [...this.byKid.keys()]);
    const seen = new Map(rows.map((r) => [r.kid, r.first_seen_at]));
    return [...this.byKid.keys()].map((kid) => ({
      kid,
      active: kid === this.active.kid,
      firstSeenAt: seen.get(kid) ?? null,
    }));
  }

  async encrypt(
    ownerId: string,
    purpose: string,
    plaintext: Buffer | string,
    tx?: Queryable,
  ): Promise<Buffer> {
    validate(ownerId, purpose);
    const { key, keyRef } = await this.dataKey(ownerId, tx, true);
    const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    return seal(key, keyRef, ownerId, purpose, bytes);
  }

  /** Throws KeyDestroyedError after `destroy(ownerId)`, DecryptionError for anything not ours. */
  async decrypt(ownerId: string, purpose: string, ciphertext: Uint8Array, tx?: Queryable): Promise<Buffer> {
    validate(ownerId, purpose);
    const { keyRef } = parseHeader(ciphertext);
    const dataKey = await this.dataKey(ownerId, tx, false);
    if (!dataKey.keyRef.equals(keyRef)) throw new DecryptionError('encrypted under another data key');
    return open(dataKey.key, ciphertext, ownerId, purpose);
  }

  /**
   * Crypto-shred: the wrapped key is erased (a tombstone row stays, so no new key is ever made for
   * this owner and decrypt can say "destroyed"). Every copy of their ciphertexts becomes noise.
   */
  async destroy(ownerId: string, tx?: Queryable): Promise<void> {
    validate(ownerId, 'destroy');
    if (ownerId === SYSTEM_OWNER) throw new TypeError('The system data key cannot be destroyed');
    await repo.destroy(tx ?? this.db, ownerId, uuidv7());
    this.cache.delete(ownerId);
  }

  /**
   * Re-wraps every live data key not under the active master key, in batches of short
   * transactions. The data keys themselves do not change, so encryption keeps working meanwhile.
   */
  async rewrapAll(options: { batchSize?: number } = {}): Promise<RewrapResult> {
    const batchSize = options.batchSize ?? 200;
    const missing = new Set<string>();
    let rewrapped = 0;
    let failed = 0;
    let after = '';
    for (;;) {
      const rows = await repo.notUnder(this.db, this.active.kid, after, batchSize);
      if (rows.length === 0) break;
      after = rows.at(-1)!.owner_id;
      const updates: [string, string, Buffer][] = [];
      for (const row of rows) {
        const old = this.byKid.get(row.master_kid!);
        const key = old && unwrapKey(old, row.wrapped_key!, row.owner_id, row.key_id);
        if (!key) {
          failed++;
          if (!old) missing.add(row.master_kid!);
          continue;
        }
        updates.push([row.owner_id, row.master_kid!, wrapKey(this.active, key, row.owner_id, row.key_id)]);
      }
      if (updates.length === 0) continue;
      rewrapped += await this.db.transaction(async (tx) => {
        let count = 0;
        for (const [ownerId, oldKid, wrapped] of updates) {
          count += await repo.rewrap(tx, ownerId, oldKid, wrapped, this.active.kid);
        }
        return count;
      });
      for (const [ownerId] of updates) this.cache.delete(ownerId);
    }
    const counts = await repo.counts(this.db, this.active.kid);
    return { rewrapped, failed, missingMasterKids: [...missing].sort(), ...counts };
  }

  private async dataKey(ownerId: string, tx: Queryable | undefined, create: boolean): Promise<UnwrappedKey> {
    const cached = this.cache.get(ownerId);
    if (cached) return cached;
    const q = tx ?? this.db;
    let row = await repo.find(q, ownerId);
    if (!row && create) {
      const keyId = uuidv7();
      const wrapped = wrapKey(this.active, randomBytes(DATA_KEY_BYTES), ownerId, keyId);
      // Two first uses at once: one insert wins, both then read the winner's key.
      const inserted = await repo.insert(q, ownerId, keyId, this.active.kid, wrapped);
      if (tx && inserted) {
        const owners = this.createdIn.get(tx) ?? new Set<string>();
        owners.add(ownerId);
        this.createdIn.set(tx, owners);
      }
      row = await repo.find(q, ownerId);
    }
    if (!row) throw new DecryptionError(`no data key exists for owner "${ownerId}"`);
    if (row.destroyed_at !== null || row.wrapped_key === null) throw new KeyDestroyedError(ownerId);
    const master = this.byKid.get(row.master_kid!);
    if (!master) {
      throw new MasterKeyError(
        `The data key of "${ownerId}" is wrapped by master key "${row.master_kid}", missing from ENCRYPTION_KEYS`,
      );
    }
    const key = unwrapKey(master, row.wrapped_key, ownerId, row.key_id);
    if (!key) {
      throw new MasterKeyError(
        `The data key of "${ownerId}" does not unwrap under master key "${master.kid}" (wrong key, or the row was altered)`,
      );
    }
    const unwrapped = { keyRef: Buffer.from(parseUuid(row.key_id)), key };
    // A key made by a transaction that may still roll back must not outlive it in the cache.
    if (!(tx && this.createdIn.get(tx)?.has(ownerId))) this.cache.set(ownerId, unwrapped);
    return unwrapped;
  }
}

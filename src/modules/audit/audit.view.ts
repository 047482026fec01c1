import { CryptoError, type KeyStore, SYSTEM_OWNER } from '../../platform/crypto/index.ts';
import type { AuditRow } from './audit.chain.ts';
import type { AuditEventView } from './audit.types.ts';

/** The columns holding personal data, encrypted under the data key of `user_id` (or system). */
export const PERSONAL_FIELDS = ['ip', 'user_agent', 'context', 'changes'] as const;
export type PersonalField = (typeof PERSONAL_FIELDS)[number];

/** Binds each ciphertext to its row and column: a value copied elsewhere does not decrypt. */
export const auditPurpose = (id: string, field: PersonalField) => `audit:${id}:${field}`;

async function decryptField(
  keys: KeyStore,
  owner: string,
  id: string,
  field: PersonalField,
  value: Uint8Array | null,
): Promise<string | null> {
  if (value === null) return null;
  try {
    return (await keys.decrypt(owner, auditPurpose(id, field), value)).toString('utf8');
  } catch (err) {
    // Shredded (or unreadable) personal data reads as null; a missing master key is a config error.
    if (err instanceof CryptoError && err.code !== 'master_key_unavailable') return null;
    throw err;
  }
}

/** A stored row as the API shows it, personal fields decrypted. */
export async function toView(keys: KeyStore, row: AuditRow): Promise<AuditEventView> {
  const owner = row.user_id ?? SYSTEM_OWNER;
  const [ip, userAgent, context, changes] = await Promise.all(
    PERSONAL_FIELDS.map((field) => decryptField(keys, owner, row.id, field, row[field])),
  );
  return {
    id: row.id,
    occurred_at: row.occurred_at.toISOString(),
    actor_id: row.actor_id,
    actor_type: row.actor_type as AuditEventView['actor_type'],
    user_id: row.user_id,
    session_id: row.session_id,
    action: row.action,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    outcome: row.outcome as AuditEventView['outcome'],
    reason: row.reason,
    request_id: row.request_id,
    trace_id: row.trace_id,
    method: row.method,
    path: row.path,
    status: row.status,
    ip: ip ?? null,
    user_agent: userAgent ?? null,
    context: context ? (JSON.parse(context) as AuditEventView['context']) : null,
    changes: changes ? (JSON.parse(changes) as AuditEventView['changes']) : null,
  };
}

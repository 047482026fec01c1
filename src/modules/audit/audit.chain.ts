import { createHash } from 'node:crypto';

/** The `prev_hash` of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** Every stored column of an audit event; the chain hashes all of them but `hash` itself. */
export interface AuditRow {
  id: string;
  seq: number;
  occurred_at: Date;
  actor_id: string;
  actor_type: string;
  user_id: string | null;
  session_id: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  outcome: string;
  reason: string | null;
  request_id: string | null;
  trace_id: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  ip: Uint8Array | null;
  user_agent: Uint8Array | null;
  context: Uint8Array | null;
  changes: Uint8Array | null;
  prev_hash: string;
  hash: string;
}

function canonicalValue(value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (typeof value === 'number' || typeof value === 'string') return value;
  return String(value);
}

/**
 * Stable JSON of a row: keys sorted, bytes as base64, times as ISO-8601 UTC, seq as a decimal
 * string (bigint-safe). Both drivers read rows back to the same text.
 */
export function canonicalRow(row: Omit<AuditRow, 'hash'>): string {
  const entries = Object.entries(row)
    .filter(([key]) => key !== 'hash')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => [key, key === 'seq' ? String(value) : canonicalValue(value)] as const);
  return JSON.stringify(Object.fromEntries(entries));
}

/** SHA-256 (hex) over the previous hash and this row's canonical form. */
export function chainHash(row: Omit<AuditRow, 'hash'>): string {
  return createHash('sha256').update(row.prev_hash).update('\n').update(canonicalRow(row)).digest('hex');
}

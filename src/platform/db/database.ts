/**
 * One small data-access interface over PGlite and node-postgres, so every repository runs the
 * same parameterised SQL on the embedded database and on a PostgreSQL server.
 */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  /** One parameterised statement ($1, $2, …). Never interpolate values into `sql`. */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Several statements without parameters (migrations only). */
  exec(sql: string): Promise<void>;
}

export type DatabaseKind = 'pglite' | 'postgres';

export interface Database extends Queryable {
  readonly kind: DatabaseKind;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Pool figures for readiness and metrics (PGlite has one connection). */
  stats(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

/** Postgres type OIDs we parse the same way on both drivers. */
export const OID = { INT8: 20, DATE: 1082, NUMERIC: 1700 } as const;

/**
 * int8 (counts, sums of integers) becomes a JS number when it is safe, a string otherwise;
 * NUMERIC stays a string (money is never a float); DATE stays `YYYY-MM-DD` (no local-time Date).
 */
export function parseInt8(value: string): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

/** The SQLSTATE of a driver error (`23505` unique violation…), whichever driver raised it. */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

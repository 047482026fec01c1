import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Database, sqlState } from './database.ts';

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

const FILE = /^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$/;

export interface MigrationFile {
  version: number;
  name: string;
  up: string;
  down: string | undefined;
  checksum: string;
}

export interface MigrationStatus {
  version: number;
  name: string;
  state: 'applied' | 'pending' | 'changed' | 'missing';
  appliedAt: Date | null;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

/** Reads `NNNN_name.up.sql` / `NNNN_name.down.sql` pairs, ordered by version. */
export function readMigrations(dir: string): MigrationFile[] {
  const byVersion = new Map<number, { name: string; up?: string; down?: string }>();
  for (const file of readdirSync(dir).sort()) {
    const match = FILE.exec(file);
    if (!match) continue;
    const version = Number(match[1]);
    const name = match[2]!;
    const entry = byVersion.get(version) ?? { name };
    if (entry.name !== name) throw new MigrationError(`Two migrations share version ${match[1]}`);
    entry[match[3] as 'up' | 'down'] = readFileSync(join(dir, file), 'utf8');
    byVersion.set(version, entry);
  }
  return [...byVersion.entries()]
    .sort(([a], [b]) => a - b)
    .map(([version, entry]) => {
      if (entry.up === undefined) throw new MigrationError(`Migration ${version} has no .up.sql file`);
      return {
        version,
        name: entry.name,
        up: entry.up,
        down: entry.down,
        checksum: createHash('sha256').update(entry.up).digest('hex'),
      };
    });
}

const LOCK_KEY = 7_310_424_251; // pg_advisory_xact_lock key: one migrator at a time across instances

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
}

/**
 * Applies and reverts plain-SQL migrations, each in its own transaction. An applied migration
 * whose up file changed since is refused: the database no longer matches the code's history.
 */
export class Migrator {
  constructor(
    private readonly db: Database,
    private readonly dir: string = DEFAULT_MIGRATIONS_DIR,
  ) {}

  private async ensureTable(): Promise<void> {
    try {
      await this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    } catch (err) {
      // Two instances starting together both try to create it; the loser sees a duplicate.
      if (sqlState(err) !== '23505' && sqlState(err) !== '42P07') throw err;
    }
  }

  private async applied(): Promise<AppliedRow[]> {
    await this.ensureTable();
    const { rows } = await this.db.query<AppliedRow>(
      'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version',
    );
    return rows;
  }

  async status(): Promise<MigrationStatus[]> {
    const files = readMigrations(this.dir);
    const applied = new Map((await this.applied()).map((row) => [row.version, row]));
    const result: MigrationStatus[] = files.map((file) => {
      const row = applied.get(file.version);
      applied.delete(file.version);
      if (!row) return { version: file.version, name: file.name, state: 'pending', appliedAt: null };
      const state = row.checksum === file.checksum ? 'applied' : 'changed';
      return { version: file.version, name: file.name, state, appliedAt: row.applied_at };
    });
    for (const row of applied.values()) {
      result.push({ version: row.version, name: row.name, state: 'missing', appliedAt: row.applied_at });
    }
    return result.sort((a, b) => a.version - b.version);
  }

  /** True when every migration file is applied unchanged and nothing unknown was applied. */
  async isCurrent(): Promise<boolean> {
    return (await this.status()).every((s) => s.state === 'applied');
  }

  private assertConsistent(status: MigrationStatus[]): void {
    const problems = status.filter((s) => s.state === 'changed' || s.state === 'missing');
    if (problems.length === 0) return;
    throw new MigrationError(
      problems
        .map((s) =>
          s.state === 'changed'
            ? `Migration ${s.name} (${s.version}) was edited after it was applied; add a new migration instead`
            : `Migration ${s.name} (${s.version}) is applied but its file is missing`,
        )
        .join('\n'),
    );
  }

  /** Applies every pending migration in order; returns the names applied. */
  async up(): Promise<string[]> {
    this.assertConsistent(await this.status());
    const done: string[] = [];
    for (const file of readMigrations(this.dir)) {
      const applied = await this.db.transaction(async (tx) => {
        if (this.db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
        // Another instance may have applied it while we waited for the lock.
        const { rows } = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [file.version]);
        if (rows.length > 0) return false;
        await tx.exec(file.up);
        await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          file.version,
          file.name,
          file.checksum,
        ]);
        return true;
      });
      if (applied) done.push(`${String(file.version).padStart(4, '0')}_${file.name}`);
    }
    return done;
  }

  /** Reverts the last `steps` applied migrations, newest first; returns the names reverted. */
  async down(steps = 1): Promise<string[]> {
    const status = await this.status();
    this.assertConsistent(status);
    const files = new Map(readMigrations(this.dir).map((f) => [f.version, f]));
    const targets = status
      .filter((s) => s.state === 'applied')
      .reverse()
      .slice(0, steps);
    const done: string[] = [];
    for (const target of targets) {
      const file = files.get(target.version)!;
      if (file.down === undefined) throw new MigrationError(`Migration ${file.name} has no .down.sql file`);
      await this.db.transaction(async (tx) => {
        if (this.db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
        await tx.exec(file.down!);
        await tx.query('DELETE FROM schema_migrations WHERE version = $1', [file.version]);
      });
      done.push(`${String(file.version).padStart(4, '0')}_${file.name}`);
    }
    return done;
  }
}

/** Writes the next numbered up/down pair; returns their paths. */
export function createMigration(dir: string, name: string): string[] {
  if (!/^[a-z0-9_]+$/.test(name))
    throw new MigrationError('Migration names use lowercase letters, digits and _');
  const last = readMigrations(dir).at(-1)?.version ?? 0;
  const base = `${String(last + 1).padStart(4, '0')}_${name}`;
  const up = join(dir, `${base}.up.sql`);
  const down = join(dir, `${base}.down.sql`);
  writeFileSync(up, `-- ${base}: PostgreSQL 15 syntax only; timestamps are timestamptz.\n`, { flag: 'wx' });
  writeFileSync(down, `-- Reverts ${base}.\n`, { flag: 'wx' });
  return [up, down];
}

import type { Config } from '../config/config.ts';
import { openDatabase } from '../platform/db/index.ts';
import { createMigration, DEFAULT_MIGRATIONS_DIR, Migrator } from '../platform/db/migrator.ts';

export const MIGRATE_USAGE = `dashtam migrate up              apply every pending migration
dashtam migrate down [n]        revert the last n migrations (default 1)
dashtam migrate status          list migrations and their state
dashtam migrate create <name>   write the next numbered up/down pair`;

/** `dashtam migrate …`; returns the process exit code. */
export async function migrateCommand(
  args: string[],
  loadConfig: () => Config,
  out: (line: string) => void,
  migrationsDir = DEFAULT_MIGRATIONS_DIR,
): Promise<number> {
  const [action, arg] = args;
  if (action === 'create') {
    if (!arg) {
      out('usage: dashtam migrate create <name>');
      return 2;
    }
    for (const path of createMigration(migrationsDir, arg)) out(`created ${path}`);
    return 0;
  }
  if (action !== 'up' && action !== 'down' && action !== 'status') {
    out(MIGRATE_USAGE);
    return 2;
  }
  const steps = arg === undefined ? 1 : Number(arg);
  if (action === 'down' && (!Number.isInteger(steps) || steps < 1)) {
    out('usage: dashtam migrate down [n] (n ≥ 1)');
    return 2;
  }
  const db = await openDatabase(loadConfig());
  try {
    const migrator = new Migrator(db, migrationsDir);
    if (action === 'status') {
      for (const s of await migrator.status()) {
        const when = s.appliedAt ? ` ${s.appliedAt.toISOString()}` : '';
        out(`${String(s.version).padStart(4, '0')}_${s.name}  ${s.state}${when}`);
      }
      return 0;
    }
    const done = action === 'up' ? await migrator.up() : await migrator.down(steps);
    if (done.length === 0)
      out(action === 'up' ? 'Nothing to apply: the database is current.' : 'Nothing to revert.');
    for (const name of done) out(`${action === 'up' ? 'applied' : 'reverted'} ${name}`);
    return 0;
  } finally {
    await db.close();
  }
}

import { loadConfig } from '../config/config.ts';
import { resolveSecretSources } from '../config/secret-sources/index.ts';
import { startServer } from '../server.ts';
import { startWorker } from '../worker.ts';
import { KEYS_USAGE, keysCommand } from './keys.command.ts';
import { MIGRATE_USAGE, migrateCommand } from './migrate.command.ts';

const USAGE = `Dashtam: self-hostable financial data aggregation

usage:
dashtam serve                   start the HTTP server (embedded database unless DATABASE_URL)
dashtam worker                  run background jobs only (PostgreSQL only; serve runs them too)
${MIGRATE_USAGE}
${KEYS_USAGE}
dashtam help                    this text

Configuration comes from the environment; see the README.`;

/** Runs one CLI command; returns the exit code (serve and worker keep running: undefined). */
export async function runCli(
  argv: string[],
  out: (line: string) => void = console.log,
): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await startServer(loadConfig(await resolveSecretSources(process.env)));
      return undefined;
    case 'worker':
      await startWorker(loadConfig(await resolveSecretSources(process.env)));
      return undefined;
    case 'migrate': {
      // `migrate create` only writes files; the others open the database with the full config.
      const env = rest[0] === 'create' ? process.env : await resolveSecretSources(process.env);
      return migrateCommand(rest, () => loadConfig(env), out);
    }
    case 'keys': {
      // `keys generate` needs no configuration; `rewrap` opens the database with the full config.
      const env = rest[0] === 'rewrap' ? await resolveSecretSources(process.env) : process.env;
      return keysCommand(rest, () => loadConfig(env), out);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      out(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      if (code !== undefined) process.exit(code);
    },
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}

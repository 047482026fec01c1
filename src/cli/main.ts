import { loadConfig } from '../config/config.ts';
import { startServer } from '../server.ts';
import { MIGRATE_USAGE, migrateCommand } from './migrate.command.ts';

const USAGE = `Dashtam: self-hostable financial data aggregation

usage:
dashtam serve                   start the HTTP server (embedded database unless DATABASE_URL)
${MIGRATE_USAGE}
dashtam help                    this text

Configuration comes from the environment; see the README.`;

/** Runs one CLI command; returns the exit code (serve keeps running and returns undefined). */
export async function runCli(
  argv: string[],
  out: (line: string) => void = console.log,
): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await startServer(loadConfig());
      return undefined;
    case 'migrate':
      return migrateCommand(rest, () => loadConfig(), out);
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

/**
 * The "write" scenario: one Dashtam app with two routes doing the same insert. The baseline route
 * opts out of rate limiting and idempotency and writes no audit event; the target route runs the
 * full write pipeline — `write` rate-limit policy, an Idempotency-Key claimed and its response
 * stored encrypted, and an audit event appended to the hash chain in the insert's transaction.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/config.ts';
import { AuditService, auditContextFrom } from '../src/modules/audit/index.ts';
import { KeyStore } from '../src/platform/crypto/index.ts';
import { openDatabase } from '../src/platform/db/index.ts';

export interface BenchServer {
  url: string;
  close: () => Promise<void>;
}

let shared: Promise<BenchServer> | undefined;

/** Both sides share one app (same process, same database); closing twice is harmless. */
export function writePipelineApp(): Promise<BenchServer> {
  shared ??= (async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dashtam-bench-write-'));
    const scratch = await scratchPostgres(process.env.BENCH_DATABASE_URL);
    const config = loadConfig({
      DASHTAM_ENV: 'test',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      DATABASE_URL: scratch?.url,
      RATE_LIMITS: 'write=100000000/60,read=100000000/60',
    });
    const db = await openDatabase(config);
    const app = await buildApp(config, { db });
    await db.exec('CREATE TABLE IF NOT EXISTS bench_notes (id uuid PRIMARY KEY, body text NOT NULL)');
    const audit = new AuditService(db, new KeyStore(db, config.secrets.encryptionKeys));
    const insert = (tx: { query: typeof db.query }, id: string, body: string) =>
      tx.query('INSERT INTO bench_notes (id, body) VALUES ($1, $2)', [id, body]);

    app.post(
      '/api/v1/bench/plain',
      { config: { rateLimit: false, idempotency: false } },
      async (request, reply) => {
        const id = uuidv7();
        await db.transaction((tx) => insert(tx, id, JSON.stringify(request.body)));
        return reply.code(201).send({ id });
      },
    );
    app.post('/api/v1/bench/full', { config: { rateLimit: 'write' } }, async (request, reply) => {
      const id = uuidv7();
      await audit.audited(
        {
          action: 'bench.note.created',
          resourceType: 'note',
          resourceId: id,
          request: auditContextFrom(request),
        },
        (tx) => insert(tx, id, JSON.stringify(request.body)),
      );
      return reply.code(201).send({ id });
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    let closing: Promise<void> | undefined;
    return {
      url,
      close: () => {
        closing ??= (async () => {
          await app.close();
          await db.close();
          await scratch?.drop();
          await rm(dataDir, { recursive: true, force: true });
        })();
        return closing;
      },
    };
  })();
  return shared;
}

/** With BENCH_DATABASE_URL (a role that may create databases), a throwaway database on that server. */
async function scratchPostgres(adminUrl: string | undefined) {
  if (!adminUrl) return undefined;
  const name = `dashtam_bench_${process.pid}_${Date.now()}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

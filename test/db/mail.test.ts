import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { Environment } from '../../src/config/config.ts';
import type { Database } from '../../src/platform/db/index.ts';
import { Migrator } from '../../src/platform/db/migrator.ts';
import { Mailer, passwordResetMail } from '../../src/platform/mail/index.ts';
import { testDatabase } from '../helpers/app.ts';
import { eventually, memoryLogger, testJobs } from '../helpers/jobs.ts';
import { header, mimePart, startSmtpSink } from '../helpers/smtp-sink.ts';

interface OutboxRow {
  sent_at: Date | null;
  attempts: number;
  last_error: string | null;
  text_body: string;
  html_body: string | null;
}

let migrated: Promise<Database> | undefined;
function migratedDatabase(): Promise<Database> {
  migrated ??= testDatabase().then(async (db) => {
    await new Migrator(db).up();
    return db;
  });
  return migrated;
}

async function mailerFor(
  t: TestContext,
  options: { smtpUrl?: string; env?: Environment; retryLimit?: number; work?: boolean } = {},
) {
  const db = await migratedDatabase();
  const logger = memoryLogger();
  const jobs = testJobs(t, db, { logger, work: options.work ?? true });
  const mailer = new Mailer(db, jobs, {
    env: options.env ?? 'test',
    smtpUrl: options.smtpUrl,
    from: 'Dashtam <no-reply@dashtam.test>',
    logger,
    retentionDays: 30,
    retryLimit: options.retryLimit ?? 2,
    retryDelaySeconds: 1,
  });
  t.after(() => mailer.close());
  await jobs.start();
  return { db, jobs, mailer, logger };
}

async function outboxRow(db: Database, id: string): Promise<OutboxRow> {
  const result = await db.query<OutboxRow>(
    'SELECT sent_at, attempts, last_error, text_body, html_body FROM mail_outbox WHERE id = $1',
    [id],
  );
  assert.ok(result.rows[0], `no outbox row ${id}`);
  return result.rows[0];
}

const LINK = 'https://dashtam.test/reset?token=s3cret-token&next=<home>';

test('a message is delivered over SMTP with from, to, subject and both parts', async (t) => {
  const sink = await startSmtpSink(t);
  const { db, mailer, logger } = await mailerFor(t, { smtpUrl: sink.url });
  const id = await mailer.send({ to: 'Ann@Example.test', ...passwordResetMail(LINK, 30) });

  const sent = await eventually(async () => {
    const row = await outboxRow(db, id);
    return row.sent_at !== null && row;
  });
  assert.equal(sent.attempts, 1);
  assert.equal(sink.messages.length, 1);
  const [mail] = sink.messages;
  assert.ok(mail);
  assert.equal(mail.from, 'no-reply@dashtam.test');
  // nodemailer lower-cases the domain (case-insensitive by RFC 5321), never the local part.
  assert.deepEqual(mail.to, ['Ann@example.test']);
  assert.equal(header(mail.raw, 'From'), 'Dashtam <no-reply@dashtam.test>');
  assert.equal(header(mail.raw, 'To'), 'Ann@example.test');
  assert.equal(header(mail.raw, 'Subject'), 'Reset your Dashtam password');
  assert.match(String(header(mail.raw, 'Content-Type')), /^multipart\/alternative/);
  const text = mimePart(mail.raw, 'text/plain');
  const html = mimePart(mail.raw, 'text/html');
  assert.ok(text?.includes(`Choose a new password: ${LINK}`), text);
  assert.ok(
    html?.includes('href="https://dashtam.test/reset?token=s3cret-token&#38;next=&#60;home&#62;"'),
    html,
  );
  assert.ok(!html?.includes('<home>'), 'link text is escaped in HTML');
  // Outside production the bodies stay for the dev mailbox.
  assert.ok(sent.text_body.includes(LINK));
  // Logs name the recipient and subject, never the body or its token.
  assert.ok(logger.entries.some((e) => e.msg === 'mail delivered' && e.obj.to === 'Ann@Example.test'));
  assert.doesNotMatch(JSON.stringify(logger.entries), /s3cret-token/);
});

test('an SMTP failure is recorded in last_error and retried; the retry delivers', async (t) => {
  const sink = await startSmtpSink(t);
  sink.failNext = 1;
  const { db, mailer } = await mailerFor(t, { smtpUrl: sink.url });
  const id = await mailer.send({ to: 'bob@example.test', subject: 'Hello', text: 'Hi Bob' });

  const failedOnce = await eventually(async () => {
    const row = await outboxRow(db, id);
    return row.last_error !== null && row;
  });
  assert.equal(failedOnce.sent_at, null);
  assert.match(String(failedOnce.last_error), /451/);

  const sent = await eventually(async () => {
    const row = await outboxRow(db, id);
    return row.sent_at !== null && row;
  });
  assert.equal(sent.attempts, 2);
  assert.match(String(sent.last_error), /451/, 'the earlier failure stays on record');
  assert.equal(sink.messages.length, 1);
  assert.equal(mimePart(sink.messages[0]?.raw ?? '', 'text/plain')?.trim(), 'Hi Bob');
});

test('a message that keeps failing ends as a failed mail.send job and stays unsent', async (t) => {
  const sink = await startSmtpSink(t);
  sink.failNext = 100;
  const { db, jobs, mailer } = await mailerFor(t, { smtpUrl: sink.url, retryLimit: 1 });
  const id = await mailer.send({ to: 'carol@example.test', subject: 'Hello', text: 'Hi' });
  await eventually(
    async () => ((await jobs.summary()).queues.find((q) => q.name === 'mail.send')?.failed ?? 0) >= 1,
  );
  const row = await outboxRow(db, id);
  assert.equal(row.sent_at, null);
  assert.equal(row.attempts, 2);
  assert.match(String(row.last_error), /451/);
});

test('without SMTP_URL outside production, delivery is a logged no-op and the message counts as sent', async (t) => {
  const { db, mailer, logger } = await mailerFor(t);
  const id = await mailer.send({ to: 'dan@example.test', subject: 'Welcome', text: `Open ${LINK}` });
  await eventually(async () => (await outboxRow(db, id)).sent_at !== null);
  const entry = logger.entries.find((e) => e.obj.outbox_id === id);
  assert.deepEqual(entry, {
    level: 'info',
    msg: 'mail not delivered: no SMTP_URL (recorded in the dev mailbox)',
    obj: { outbox_id: id, to: 'dan@example.test', subject: 'Welcome' },
  });
  assert.doesNotMatch(JSON.stringify(logger.entries), /s3cret-token/);
});

test('in production, a sent message keeps no body; without SMTP_URL delivery fails and says why', async (t) => {
  const sink = await startSmtpSink(t);
  const withSmtp = await mailerFor(t, { smtpUrl: sink.url, env: 'production' });
  const id = await withSmtp.mailer.send({ to: 'erin@example.test', subject: 'Reset', text: `Open ${LINK}` });
  const sent = await eventually(async () => {
    const row = await outboxRow(withSmtp.db, id);
    return row.sent_at !== null && row;
  });
  assert.equal(sent.text_body, '');
  assert.equal(sent.html_body, null);

  const without = await mailerFor(t, { env: 'production', work: false });
  const unsent = await without.mailer.send({ to: 'erin@example.test', subject: 'Reset', text: 'x' });
  await assert.rejects(without.mailer.deliver(unsent), /SMTP_URL is not set/);
  const row = await outboxRow(without.db, unsent);
  assert.equal(row.sent_at, null);
  assert.match(String(row.last_error), /SMTP_URL is not set/);
});

test('a message is queued with the caller transaction, or not at all', async (t) => {
  const { db, mailer } = await mailerFor(t, { work: false });
  const countJobs = async () =>
    (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'mail.send'"))
      .rows[0]?.n;
  const jobsBefore = await countJobs();
  await assert.rejects(
    db.transaction(async (tx) => {
      await mailer.send({ to: 'rollback@example.test', subject: 'Nope', text: 'x' }, { tx });
      throw new Error('registration failed');
    }),
    /registration failed/,
  );
  const rows = await db.query("SELECT 1 FROM mail_outbox WHERE to_address = 'rollback@example.test'");
  assert.equal(rows.rows.length, 0);
  assert.equal(await countJobs(), jobsBefore);
  await db.transaction(async (tx) => {
    await mailer.send({ to: 'commit@example.test', subject: 'Yes', text: 'x' }, { tx });
  });
  assert.equal(await countJobs(), (jobsBefore ?? 0) + 1);
});

test('send() refuses a header-breaking recipient or subject', async (t) => {
  const { mailer } = await mailerFor(t, { work: false });
  await assert.rejects(mailer.send({ to: 'a@example.test\r\nBcc: x@evil.test', subject: 's', text: 't' }));
  await assert.rejects(mailer.send({ to: 'a@example.test', subject: 'one\ntwo', text: 't' }));
  await assert.rejects(mailer.send({ to: 'not-an-address', subject: 's', text: 't' }));
});

test('retention.purge deletes outbox messages older than OUTBOX_RETENTION_DAYS', async (t) => {
  const { db, jobs, mailer } = await mailerFor(t, { work: false });
  const old = await mailer.send({ to: 'old@example.test', subject: 'Old', text: 'x' });
  const recent = await mailer.send({ to: 'recent@example.test', subject: 'Recent', text: 'x' });
  await db.query(
    "UPDATE mail_outbox SET created_at = now() - interval '31 days', sent_at = now() - interval '31 days' WHERE id = $1",
    [old],
  );
  const removed = await jobs.runRetention();
  assert.ok((removed.mail_outbox ?? 0) >= 1);
  const left = await db.query<{ id: string }>('SELECT id FROM mail_outbox WHERE id = ANY($1::uuid[])', [
    [old, recent],
  ]);
  assert.deepEqual(
    left.rows.map((r) => r.id),
    [recent],
  );
});

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { buildTestApp, testDatabase } from '../helpers/app.ts';
import { enqueueOnlyMailer } from '../helpers/jobs.ts';
import { assertProblem } from '../helpers/problem.ts';

test('GET /api/v1/dev/mailbox lists sent messages newest first, filtered by address in any case', async (t) => {
  const app = await buildTestApp(t);
  const mailer = await enqueueOnlyMailer(t, await testDatabase());
  const first = await mailer.send({
    to: 'Frank@Example.test',
    subject: 'First',
    text: 'Open /verify?token=abc',
  });
  const second = await mailer.send({ to: 'frank@example.test', subject: 'Second', text: 'Hello again' });
  await mailer.send({ to: 'grace@example.test', subject: 'Other', text: 'Not for Frank' });

  const res = await app.inject({ url: '/api/v1/dev/mailbox?to=FRANK@example.TEST' });
  assert.equal(res.statusCode, 200);
  const { data } = res.json() as { data: Record<string, unknown>[] };
  assert.deepEqual(
    data.map((m) => [m.id, m.to, m.subject]),
    [
      [second, 'frank@example.test', 'Second'],
      [first, 'Frank@Example.test', 'First'],
    ],
  );
  assert.equal(data[1]?.text, 'Open /verify?token=abc');
  assert.match(String(data[0]?.created_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
  assert.deepEqual(Object.keys(data[0] ?? {}).sort(), ['created_at', 'id', 'subject', 'text', 'to']);

  const all = (await app.inject({ url: '/api/v1/dev/mailbox' })).json() as { data: { to: string }[] };
  assert.ok(all.data.some((m) => m.to === 'grace@example.test'));
});

test('the mailbox holds the last 100 messages', async (t) => {
  const app = await buildTestApp(t);
  const db = await testDatabase();
  await db.query(
    `INSERT INTO mail_outbox (id, to_address, subject, text_body, created_at)
     SELECT gen_random_uuid(), 'many@example.test', 'Message ' || n, 'x', now() - n * interval '1 second'
       FROM generate_series(1, 105) AS n`,
  );
  const res = await app.inject({ url: '/api/v1/dev/mailbox?to=many@example.test' });
  const { data } = res.json() as { data: { subject: string }[] };
  assert.equal(data.length, 100);
  assert.equal(data[0]?.subject, 'Message 1');
  assert.equal(data[99]?.subject, 'Message 100');
});

test('the mailbox refuses unknown query parameters', async (t) => {
  const app = await buildTestApp(t);
  const res = await app.inject({ url: '/api/v1/dev/mailbox?user=someone' });
  const body = assertProblem(res, 422, 'validation_failed');
  assert.deepEqual(body.errors, [
    { field: 'user', code: 'unknown_field', message: 'is not an allowed property' },
  ]);
});

test('the mailbox does not exist in production', async (t) => {
  const app = await buildTestApp(t, {
    env: { DASHTAM_ENV: 'production', PUBLIC_BASE_URL: 'https://dashtam.example.com' },
  });
  assertProblem(await app.inject({ url: '/api/v1/dev/mailbox' }), 404, 'not_found');
  assertProblem(await app.inject({ url: '/api/v1/dev/mailbox?to=a@example.test' }), 404, 'not_found');
  const doc = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
  assert.equal(doc.paths['/api/v1/dev/mailbox'], undefined);
});

test('with JOBS_ENABLED the app runs jobs itself: a queued message is delivered (logged, no SMTP)', async (t) => {
  const app = await buildTestApp(t, { env: { JOBS_ENABLED: 'true' } });
  const mailer = await enqueueOnlyMailer(t, await testDatabase());
  const id = await mailer.send({ to: 'heidi@example.test', subject: 'Jobs on', text: 'x' });
  const db = await testDatabase();
  const deadline = Date.now() + 15_000;
  let sentAt: Date | null = null;
  while (sentAt === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    sentAt =
      (await db.query<{ sent_at: Date | null }>('SELECT sent_at FROM mail_outbox WHERE id = $1', [id]))
        .rows[0]?.sent_at ?? null;
  }
  assert.ok(sentAt, 'the app worker delivered the message');
  await app.close();
});

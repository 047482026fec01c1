import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Jobs, nextRunAt, RETENTION_JOB } from '../../src/platform/jobs/index.ts';
import { testDatabase } from '../helpers/app.ts';
import { eventually, gate, memoryLogger, testJobs } from '../helpers/jobs.ts';

// Every test declares queues of its own on the file's database, so their counts do not mix.

async function queueCounts(jobs: Jobs, name: string) {
  return (await jobs.summary()).queues.find((q) => q.name === name);
}

test('a defined job runs with its data, and summary() lists its queue and the retention schedule', async (t) => {
  const outcomes: string[] = [];
  const jobs = testJobs(t, await testDatabase(), { onOutcome: (q, o) => outcomes.push(`${q}:${o}`) });
  const seen: { data: unknown; attempt: number }[] = [];
  const done = gate();
  jobs.define<{ n: number }>('test.echo', async (data, job) => {
    seen.push({ data, attempt: job.attempt });
    done.open();
  });
  await jobs.start();
  const id = await jobs.send('test.echo', { n: 1 });
  assert.match(String(id), /^[0-9a-f-]{36}$/);
  await done.promise;
  assert.deepEqual(seen, [{ data: { n: 1 }, attempt: 1 }]);
  await eventually(async () => outcomes.length > 0);
  assert.deepEqual(outcomes, ['test.echo:completed'], 'outcomes feed the job metrics');

  const settled = await eventually(async () => {
    const q = await queueCounts(jobs, 'test.echo');
    return q && q.active === 0 && q;
  });
  assert.deepEqual(settled, { name: 'test.echo', queued: 0, active: 0, failed: 0 });
  const summary = await jobs.summary();
  assert.ok(!summary.queues.some((q) => q.name.startsWith('__pgboss')), 'internal queues are hidden');
  const retention = summary.schedules.find((s) => s.name === RETENTION_JOB);
  assert.ok(retention);
  assert.equal(retention.next_run_at, nextRunAt('30 3 * * *', 'UTC'));
  assert.match(String(retention.next_run_at), /T03:30:00\.000Z$/);
});

test('a failing job is retried with growing delays, then kept as failed and counted', async (t) => {
  const outcomes: string[] = [];
  const jobs = testJobs(t, await testDatabase(), { onOutcome: (_q, o) => outcomes.push(o) });
  const attempts: { attempt: number; at: number }[] = [];
  jobs.define(
    'test.flaky',
    async (_data, job) => {
      attempts.push({ attempt: job.attempt, at: Date.now() });
      throw new Error(`upstream refused (attempt ${job.attempt})`);
    },
    { retryLimit: 2, retryDelay: 1, retryBackoff: true },
  );
  await jobs.start();
  const id = await jobs.send('test.flaky', {});

  const failed = await eventually(async () => {
    const q = await queueCounts(jobs, 'test.flaky');
    return q?.failed === 1 && q;
  });
  assert.deepEqual(failed, { name: 'test.flaky', queued: 0, active: 0, failed: 1 });
  assert.deepEqual(
    attempts.map((a) => a.attempt),
    [1, 2, 3],
  );
  assert.deepEqual(outcomes, ['failed', 'failed', 'failed']);
  // Backoff: the first retry waits 1-2 s, the second 2-4 s (retryDelay · 2^n with jitter).
  const [first, second, third] = attempts as [
    (typeof attempts)[0],
    (typeof attempts)[0],
    (typeof attempts)[0],
  ];
  assert.ok(second.at - first.at >= 900, `first retry after ${second.at - first.at} ms`);
  assert.ok(third.at - second.at >= 1900, `second retry after ${third.at - second.at} ms`);

  const db = await testDatabase();
  const row = await db.query<{ state: string; retry_count: number; output: { message?: string } }>(
    'SELECT state, retry_count, output FROM pgboss.job WHERE id = $1',
    [id],
  );
  assert.equal(row.rows[0]?.state, 'failed');
  assert.equal(row.rows[0]?.retry_count, 2);
  assert.equal(row.rows[0]?.output.message, 'upstream refused (attempt 3)');
});

test('stately policy refuses a second queued job for one singletonKey; other keys are accepted', async (t) => {
  const jobs = testJobs(t, await testDatabase(), { work: false });
  jobs.define('test.stately', async () => {}, { policy: 'stately' });
  await jobs.start();
  const first = await jobs.send('test.stately', { n: 1 }, { singletonKey: 'user-1' });
  const duplicate = await jobs.send('test.stately', { n: 2 }, { singletonKey: 'user-1' });
  const other = await jobs.send('test.stately', { n: 3 }, { singletonKey: 'user-2' });
  assert.ok(first);
  assert.equal(duplicate, null);
  assert.ok(other);
  assert.equal((await queueCounts(jobs, 'test.stately'))?.queued, 2);
});

test('singleton policy never runs two jobs of one singletonKey at once, even with spare workers', async (t) => {
  const jobs = testJobs(t, await testDatabase());
  const release = gate();
  const active = new Map<string, number>();
  let maxSameKey = 0;
  const finished: number[] = [];
  jobs.define<{ n: number; key: string }>(
    'test.singleton',
    async ({ n, key }) => {
      active.set(key, (active.get(key) ?? 0) + 1);
      maxSameKey = Math.max(maxSameKey, active.get(key) ?? 0);
      await release.promise;
      active.set(key, (active.get(key) ?? 0) - 1);
      finished.push(n);
    },
    { policy: 'singleton', concurrency: 2 },
  );
  await jobs.start();
  await jobs.send('test.singleton', { n: 1, key: 'k' }, { singletonKey: 'k' });
  await jobs.send('test.singleton', { n: 2, key: 'k' }, { singletonKey: 'k' });
  await eventually(async () => (await queueCounts(jobs, 'test.singleton'))?.active === 1);
  // Both workers poll several times while job 1 holds the key; job 2 must stay queued.
  await new Promise((r) => setTimeout(r, 1500));
  const during = await queueCounts(jobs, 'test.singleton');
  assert.deepEqual({ active: during?.active, queued: during?.queued }, { active: 1, queued: 1 });
  release.open();
  await eventually(async () => finished.length === 2);
  assert.equal(maxSameKey, 1);
  assert.deepEqual(finished, [1, 2]);
});

test('stop() waits for a running job to finish, then takes no more', async (t) => {
  const db = await testDatabase();
  const jobs = new Jobs(db, { logger: memoryLogger(), pollingIntervalSeconds: 0.5, stopTimeoutMs: 10_000 });
  t.after(() => jobs.stop());
  const started = gate();
  let finished = false;
  jobs.define('test.slow', async () => {
    started.open();
    await new Promise((r) => setTimeout(r, 1200));
    finished = true;
  });
  await jobs.start();
  const id = await jobs.send('test.slow', {});
  await started.promise;
  await jobs.stop();
  assert.equal(finished, true, 'stop() returned before the job finished');
  const row = await db.query<{ state: string }>('SELECT state FROM pgboss.job WHERE id = $1', [id]);
  assert.equal(row.rows[0]?.state, 'completed');
  await assert.rejects(jobs.send('test.slow', {}), /not running/);
});

test('stop() is bounded: a job past the grace period is failed so it is retried later', async (t) => {
  const db = await testDatabase();
  const logger = memoryLogger();
  const jobs = new Jobs(db, { logger, pollingIntervalSeconds: 0.5, stopTimeoutMs: 1000 });
  t.after(() => jobs.stop());
  const started = gate();
  let aborted = false;
  jobs.define('test.stuck', async (_data, job) => {
    started.open();
    await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve()));
    aborted = true;
  });
  await jobs.start();
  const id = await jobs.send('test.stuck', {});
  await started.promise;
  const before = Date.now();
  await jobs.stop();
  assert.ok(Date.now() - before < 4000, `stop took ${Date.now() - before} ms`);
  assert.equal(aborted, true);
  const row = await db.query<{ state: string }>('SELECT state FROM pgboss.job WHERE id = $1', [id]);
  assert.equal(row.rows[0]?.state, 'retry');
});

test('retention.purge runs every registered purge, and fails (to retry) if one of them fails', async (t) => {
  const logger = memoryLogger();
  const jobs = testJobs(t, await testDatabase(), { work: false, logger });
  const calls: string[] = [];
  jobs.registerRetention('a', async () => {
    calls.push('a');
    return 3;
  });
  jobs.registerRetention('b', async () => {
    calls.push('b');
    throw new Error('table locked');
  });
  jobs.registerRetention('c', async () => {
    calls.push('c');
    return 0;
  });
  await assert.rejects(jobs.runRetention(), /retention purge failed for: b/);
  assert.deepEqual(calls, ['a', 'b', 'c']);
  assert.ok(logger.entries.some((e) => e.level === 'error' && e.obj.retention === 'b'));
  assert.deepEqual(logger.entries.find((e) => e.msg === 'retention purge finished')?.obj, {
    removed: { a: 3, c: 0 },
  });
});

test('define() and schedule() are refused after start; send() needs a defined job', async (t) => {
  const jobs = testJobs(t, await testDatabase(), { work: false });
  assert.throws(() => jobs.schedule('test.undefined', '* * * * *'), /define/);
  await jobs.start();
  assert.throws(() => jobs.define('test.late', async () => {}), /after the job runner started/);
  await assert.rejects(jobs.send('test.nothing', {}), /no such job/);
});

test('a job enqueued inside a transaction exists only if the transaction commits', async (t) => {
  const db = await testDatabase();
  const jobs = testJobs(t, db, { work: false });
  jobs.define('test.tx', async () => {});
  await jobs.start();
  await assert.rejects(
    db.transaction(async (tx) => {
      await jobs.send('test.tx', { n: 1 }, { tx });
      throw new Error('roll back');
    }),
    /roll back/,
  );
  await db.transaction(async (tx) => {
    await jobs.send('test.tx', { n: 2 }, { tx });
  });
  const rows = await db.query<{ data: { n: number } }>("SELECT data FROM pgboss.job WHERE name = 'test.tx'");
  assert.deepEqual(
    rows.rows.map((r) => r.data.n),
    [2],
  );
});

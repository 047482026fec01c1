import { createTransport } from 'nodemailer';
import { v7 as uuidv7 } from 'uuid';
import type { Environment } from '../../config/config.ts';
import type { Database, Queryable } from '../db/index.ts';
import type { Jobs, JobsLogger } from '../jobs/index.ts';
import { type MailboxEntry, MailOutboxRepository } from './mail-outbox.repository.ts';

export const MAIL_JOB = 'mail.send';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface MailerOptions {
  env: Environment;
  /** smtp:// or smtps:// with credentials; unset outside production = log instead of deliver. */
  smtpUrl: string | undefined;
  from: string;
  logger: JobsLogger;
  /** Sent messages and dead ones are deleted after this many days (OUTBOX_RETENTION_DAYS). */
  retentionDays: number;
  /** Delivery retries: about 5 minutes of backoff by default, long enough for an SMTP blip. */
  retryLimit?: number;
  retryDelaySeconds?: number;
}

interface MailJob {
  outbox_id: string;
}

type Transport = ReturnType<typeof createTransport>;

// A header value may not carry line breaks (header injection) and an address needs an @.
const HEADER_BREAK = /[\r\n]/;

/**
 * Outgoing email. send() records the message in mail_outbox and enqueues a `mail.send` job
 * carrying only its id, both in one transaction; the job delivers over SMTP with retries and
 * records attempts, last_error and sent_at on the outbox row.
 */
export class Mailer {
  private readonly outbox: MailOutboxRepository;
  private readonly transport: Transport | undefined;

  constructor(
    private readonly db: Database,
    private readonly jobs: Jobs,
    private readonly options: MailerOptions,
  ) {
    this.outbox = new MailOutboxRepository(db);
    this.transport = options.smtpUrl
      ? createTransport({
          url: options.smtpUrl,
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 30_000,
        })
      : undefined;
    jobs.define<MailJob>(MAIL_JOB, (data) => this.deliver(data.outbox_id), {
      retryLimit: options.retryLimit ?? 5,
      retryDelay: options.retryDelaySeconds ?? 10,
      retryBackoff: true,
      expireInSeconds: 120,
    });
    jobs.registerRetention('mail_outbox', () => this.outbox.purgeOlderThan(options.retentionDays));
  }

  /**
   * Queues a message; returns its outbox id. With `tx`, the message is queued only if the
   * caller's transaction commits (e.g. the verification email of a new account).
   */
  async send(message: MailMessage, options: { tx?: Queryable } = {}): Promise<string> {
    if (HEADER_BREAK.test(message.to) || HEADER_BREAK.test(message.subject) || !message.to.includes('@')) {
      throw new Error('A mail recipient must be one address and a subject one line');
    }
    const id = uuidv7();
    const enqueue = async (tx: Queryable) => {
      await this.outbox.insert(
        { id, to: message.to, subject: message.subject, text: message.text, html: message.html ?? null },
        tx,
      );
      await this.jobs.send<MailJob>(MAIL_JOB, { outbox_id: id }, { tx });
    };
    if (options.tx) {
      await enqueue(options.tx);
    } else {
      await this.db.transaction(enqueue);
      this.jobs.wake(MAIL_JOB);
    }
    return id;
  }

  /** The dev mailbox (development and test only: production erases bodies once sent). */
  mailbox(to: string | undefined): Promise<MailboxEntry[]> {
    return this.outbox.list(to);
  }

  /** The `mail.send` job. Safe to run twice: a message already sent is not sent again. */
  async deliver(outboxId: string): Promise<void> {
    const message = await this.outbox.claim(outboxId);
    if (!message) return;
    // Only the recipient and subject are logged: bodies hold sign-in and reset links.
    const logged = { outbox_id: message.id, to: message.to, subject: message.subject };
    if (!this.transport) {
      if (this.options.env === 'production') {
        const error = 'SMTP_URL is not set, so mail cannot be delivered';
        await this.outbox.recordFailure(message.id, error);
        throw new Error(error);
      }
      this.options.logger.info(logged, 'mail not delivered: no SMTP_URL (recorded in the dev mailbox)');
      await this.outbox.markSent(message.id, false);
      return;
    }
    try {
      await this.transport.sendMail({
        from: this.options.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html ? { html: message.html } : {}),
      });
    } catch (err) {
      await this.outbox.recordFailure(message.id, (err as Error).message);
      throw err;
    }
    await this.outbox.markSent(message.id, this.options.env === 'production');
    this.options.logger.info(logged, 'mail delivered');
  }

  close(): void {
    this.transport?.close();
  }
}

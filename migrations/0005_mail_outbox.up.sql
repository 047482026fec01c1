-- Every outgoing email: the delivery record the mail.send job works from (so job rows carry
-- only this id, never a message with its links and tokens), and in development and test the
-- dev mailbox. Production erases the bodies once a message is sent; retention deletes rows.
CREATE TABLE mail_outbox (
  id uuid PRIMARY KEY,
  to_address text NOT NULL,
  subject text NOT NULL,
  text_body text NOT NULL,
  html_body text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  last_error text
);

-- The dev mailbox filters by address, case-insensitively, newest first.
CREATE INDEX mail_outbox_to_created_idx ON mail_outbox (lower(to_address), created_at DESC);
-- Retention purges by age.
CREATE INDEX mail_outbox_created_idx ON mail_outbox (created_at);

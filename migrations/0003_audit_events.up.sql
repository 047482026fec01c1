-- Append-only, hash-chained audit log (DESIGN.md "Audit"). Personal fields (ip, user_agent,
-- context, changes) are ciphertexts under the data key of user_id (or 'system'), so destroying
-- a user's key erases them while the row, and the chain through it, stay intact.
CREATE TABLE audit_events (
  id uuid PRIMARY KEY,
  seq bigint NOT NULL UNIQUE,
  occurred_at timestamptz NOT NULL,
  actor_id text NOT NULL,
  actor_type text NOT NULL CHECK (actor_type IN ('user', 'system', 'admin', 'anonymous')),
  user_id text,
  session_id text,
  action text NOT NULL,
  resource_type text,
  resource_id text,
  outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  reason text,
  request_id text,
  trace_id text,
  method text,
  path text,
  status integer,
  ip bytea,
  user_agent bytea,
  context bytea,
  changes bytea,
  prev_hash text NOT NULL,
  hash text NOT NULL UNIQUE
);

CREATE INDEX audit_events_user_idx ON audit_events (user_id, seq DESC);
CREATE INDEX audit_events_action_idx ON audit_events (action, occurred_at);
CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at);

-- Rows are never changed or removed, whoever asks; only a table owner disabling the triggers
-- can, and the hash chain then shows it.
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Idempotency-Key records (API.md Conventions). Responses are stored encrypted; keys and
-- anonymous owners (client IPs) only as SHA-256 hashes.
CREATE TABLE idempotency_keys (
  id uuid PRIMARY KEY,
  owner_id text NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  key_hash text NOT NULL,
  fingerprint text NOT NULL,
  state text NOT NULL CHECK (state IN ('in_progress', 'completed')),
  status_code integer CHECK (status_code BETWEEN 200 AND 299),
  content_type text,
  response bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  expires_at timestamptz NOT NULL,
  CONSTRAINT idempotency_keys_scope UNIQUE (owner_id, method, path, key_hash),
  CONSTRAINT idempotency_keys_completed CHECK (
    state = 'in_progress' OR (status_code IS NOT NULL AND response IS NOT NULL AND completed_at IS NOT NULL)
  )
);

CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- Identity: users, their sessions and refresh tokens, one-time email tokens, failed logins.

CREATE TABLE users (
  id uuid PRIMARY KEY,
  email text NOT NULL,
  name text,
  password_hash text NOT NULL,
  email_verified_at timestamptz,
  roles text[] NOT NULL DEFAULT '{}',
  -- Access and refresh tokens issued with an older version stop working (per-user rotation).
  min_token_version integer NOT NULL DEFAULT 1,
  disabled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One account per address, whatever its case.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  ip_address text,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now(),
  -- Absolute lifetime (30 days from login); refreshing does not extend it.
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text
);

-- A user's sessions, newest first (listing, cap eviction).
CREATE INDEX sessions_user_created_idx ON sessions (user_id, created_at DESC);

CREATE TABLE refresh_tokens (
  -- SHA-256 of the opaque token; the token itself is never stored.
  token_hash bytea PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  issued_version integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  rotated_at timestamptz,
  replaced_by bytea
);

CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE one_time_tokens (
  token_hash bytea PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('email_verification', 'password_reset', 'email_change')),
  new_email text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);

CREATE INDEX one_time_tokens_user_purpose_idx ON one_time_tokens (user_id, purpose);

-- Failed sign-ins, counted per email and client IP (15 min) and per email (1 h).
CREATE TABLE login_failures (
  email_lower text NOT NULL,
  ip text NOT NULL,
  failed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX login_failures_email_ip_idx ON login_failures (email_lower, ip, failed_at);
CREATE INDEX login_failures_email_idx ON login_failures (email_lower, failed_at);

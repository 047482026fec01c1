-- TOTP two-factor authentication (RFC 6238) and its one-time recovery codes.

CREATE TABLE user_totp (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  -- The shared secret, encrypted with the user's data key (KeyStore, purpose identity.totp_secret).
  secret_ciphertext bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- NULL while enrolment is pending; MFA is on once confirmed with a valid code.
  confirmed_at timestamptz,
  -- The newest 30-second step whose code was accepted: a code is never accepted twice.
  last_used_step bigint
);

CREATE TABLE recovery_codes (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- SHA-256 of the user id and the normalised code; the code itself is never stored.
  code_hash bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz,
  PRIMARY KEY (user_id, code_hash)
);

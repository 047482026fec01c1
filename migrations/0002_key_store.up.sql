-- Envelope encryption key store (ADR 0005). Its own schema so it can be backed up apart from the
-- data: a restored data backup cannot resurrect a destroyed (crypto-shredded) user's key.
CREATE SCHEMA keystore;

-- Master keys seen in ENCRYPTION_KEYS: first_seen_at drives rotation reminders; the fingerprint
-- (an HMAC key check value) catches a kid reused for different key material.
CREATE TABLE keystore.master_keys (
  kid text PRIMARY KEY,
  fingerprint text NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now()
);

-- One data key per owner (a user id, or 'system'); purposes are separated by associated data.
-- A destroyed key keeps a tombstone (no key material) so no new key is ever made for that owner.
CREATE TABLE keystore.data_keys (
  owner_id text PRIMARY KEY,
  key_id uuid NOT NULL UNIQUE,
  master_kid text,
  wrapped_key bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  rotated_at timestamptz,
  destroyed_at timestamptz,
  CONSTRAINT data_keys_live_or_destroyed CHECK (
    (destroyed_at IS NULL AND master_kid IS NOT NULL AND wrapped_key IS NOT NULL)
    OR (destroyed_at IS NOT NULL AND master_kid IS NULL AND wrapped_key IS NULL)
  )
);

-- Re-wrapping looks for live keys not yet under the active master key.
CREATE INDEX data_keys_master_kid_idx ON keystore.data_keys (master_kid) WHERE destroyed_at IS NULL;

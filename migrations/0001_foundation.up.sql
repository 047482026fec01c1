-- Shared helpers every module's tables use.

-- Keeps updated_at honest without trusting every UPDATE statement to set it.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

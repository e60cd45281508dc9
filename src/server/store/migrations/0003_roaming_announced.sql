-- ocs-stack schema, version 3: contact lists and roaming data announced to the pool.
-- Each change of a user's row is announced at its commit on `ocs_roaming`, with the user and
-- the node that wrote it (the documents are read by whoever listens: they may be longer
-- than a notification may be).
CREATE FUNCTION ocs_roaming_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ocs_roaming', json_build_object(
        'by', current_setting('ocs.node', true), 'aor', NEW.aor)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER roaming_announced AFTER INSERT OR UPDATE ON roaming
    FOR EACH ROW EXECUTE FUNCTION ocs_roaming_changed();

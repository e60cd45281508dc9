-- ocs-stack schema, version 4: each conference's owner, announced to the pool.
-- A conference lives on the front end that created it (its focus and MCUs are there); the
-- others send its requests there. Every write of a conference names its node as owner, and
-- is announced at its commit on `ocs_conferences`.
ALTER TABLE conferences ADD COLUMN owner TEXT;
CREATE FUNCTION ocs_conference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('ocs_conferences',
            json_build_object('focus', OLD.focus, 'owner', NULL)::text);
        RETURN OLD;
    END IF;
    PERFORM pg_notify('ocs_conferences',
        json_build_object('focus', NEW.focus, 'owner', NEW.owner)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER conferences_announced AFTER INSERT OR UPDATE OR DELETE ON conferences
    FOR EACH ROW EXECUTE FUNCTION ocs_conference_changed();

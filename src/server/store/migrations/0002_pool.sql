-- ocs-stack schema, version 2: a pool of front ends on one database.

-- The proxies a request to a binding goes through (RFC 3327 Path), top first: in a pool, the
-- front end that holds the binding's flow is on top.
ALTER TABLE bindings ADD COLUMN path TEXT[] NOT NULL DEFAULT '{}';

-- Every change of a binding is announced, at its commit, to the front ends listening on
-- `ocs_bindings`: the row as JSON, what happened to it, and which node wrote it (the
-- transaction's `ocs.node` setting), so that a node skips its own writes.
CREATE FUNCTION ocs_binding_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('ocs_bindings',
            json_build_object('op', 'delete', 'by', current_setting('ocs.node', true),
                'aor', OLD.aor, 'contact', OLD.contact)::text);
        RETURN OLD;
    END IF;
    PERFORM pg_notify('ocs_bindings', json_build_object('op', 'set',
        'by', current_setting('ocs.node', true), 'aor', NEW.aor,
        'contact', NEW.contact, 'instance', NEW.instance, 'expires_at', NEW.expires_at,
        'call_id', NEW.call_id, 'cseq', NEW.cseq, 'path', NEW.path)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER bindings_announced AFTER INSERT OR UPDATE OR DELETE ON bindings
    FOR EACH ROW EXECUTE FUNCTION ocs_binding_changed();

-- The front ends of the pool: each one's name, where the others reach it (SIP over TCP,
-- its pool listener), and when it last said it is alive (Unix seconds).
CREATE TABLE pool_nodes (
    name TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    heartbeat BIGINT NOT NULL
);

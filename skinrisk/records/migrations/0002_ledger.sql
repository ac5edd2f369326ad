-- The audit ledger (skinrisk.ledger): one row per entry, the same fields and hash chain as
-- ledger.jsonl. "data" is the entry's data as JSON text, so that a row reads back to the very
-- entry that was hashed (jsonb would normalise numbers and key order). Every task appends, so
-- both roles may INSERT and SELECT; no role may UPDATE, DELETE or TRUNCATE, and the triggers
-- refuse those even to the owner.
CREATE SCHEMA ledger;
REVOKE ALL ON SCHEMA ledger FROM PUBLIC;

CREATE TABLE ledger.entries (
    seq BIGINT PRIMARY KEY CHECK (seq > 0),
    at TEXT NOT NULL, event TEXT NOT NULL, "by" TEXT NOT NULL, data TEXT NOT NULL,
    prev TEXT NOT NULL, hash TEXT NOT NULL UNIQUE);

CREATE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.entries is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON ledger.entries
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON ledger.entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

REVOKE ALL ON ledger.entries FROM PUBLIC;
GRANT USAGE ON SCHEMA ledger TO skinrisk_ingest, skinrisk_pipeline;
GRANT SELECT, INSERT ON ledger.entries TO skinrisk_ingest, skinrisk_pipeline;

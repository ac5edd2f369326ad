-- The surrogate-id map (skinrisk.storage.private's SQLite tables, added columns included) in its
-- own schema. Only the role ingest uses may read or write it; the role the training, evaluation
-- and promotion tasks use has no access at all, so a leaked pipeline credential cannot reach it.
-- The roles are NOLOGIN here: an operator grants them to login users, or gives them LOGIN and a
-- password (docs/environment.md).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'skinrisk_ingest') THEN
        CREATE ROLE skinrisk_ingest NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'skinrisk_pipeline') THEN
        CREATE ROLE skinrisk_pipeline NOLOGIN;
    END IF;
END $$;

CREATE SCHEMA identity;
REVOKE ALL ON SCHEMA identity FROM PUBLIC;

CREATE TABLE identity.patients (
    source TEXT NOT NULL, source_key TEXT NOT NULL, surrogate TEXT NOT NULL UNIQUE,
    PRIMARY KEY (source, source_key));
CREATE TABLE identity.lesions (
    source TEXT NOT NULL, patient_key TEXT NOT NULL, lesion_key TEXT NOT NULL,
    surrogate TEXT NOT NULL UNIQUE, PRIMARY KEY (source, patient_key, lesion_key));
CREATE TABLE identity.files (
    batch_id TEXT NOT NULL, file_name TEXT NOT NULL, line INTEGER,
    received_sha256 TEXT, outcome TEXT NOT NULL, image_id TEXT, quarantine_id TEXT,
    reason TEXT, kind TEXT, signature TEXT, PRIMARY KEY (batch_id, file_name));
CREATE INDEX files_file_name ON identity.files (file_name);
CREATE INDEX files_image_id ON identity.files (image_id);
CREATE TABLE identity.secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL);

REVOKE ALL ON ALL TABLES IN SCHEMA identity FROM PUBLIC;
GRANT USAGE ON SCHEMA identity TO skinrisk_ingest;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA identity TO skinrisk_ingest;
-- A rerun of a batch replaces that batch's file records; surrogates and secrets are never removed.
GRANT DELETE ON identity.files TO skinrisk_ingest;

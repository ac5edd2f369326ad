-- A surrogate, a lesion's surrogate and a store secret are written once and never changed:
-- rewriting one forgets the mapping as surely as deleting it (a patient's next photo would get
-- another surrogate, every device token would change). 0001 granted UPDATE on every identity
-- table; only the file records need it (a rerun confirms their listing signatures).
REVOKE UPDATE ON identity.patients, identity.lesions, identity.secrets FROM skinrisk_ingest;

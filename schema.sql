-- idv: the whole DDL. Applied once on an empty database; stamped with PRAGMA user_version by the store.
--
-- Two kinds of tables live here:
--   * the event log (`events`), the source of truth and the audit trail; append-only by trigger;
--   * views projected from it (identities, relationships, ...), which `idv replay` drops and rebuilds;
-- plus three state tables that are deliberately NOT events, because they must be destroyable or are caches:
--   * subject_keys: per-identity data keys, wrapped by the master key (crypto-shredding deletes a row);
--   * idempotency_records: sealed replay cache of responses (24 h);
--   * meta: small key/value facts about the database itself.

CREATE TABLE IF NOT EXISTS events (
    seq            INTEGER PRIMARY KEY,
    event_id       TEXT    NOT NULL UNIQUE,
    stream_id      TEXT    NOT NULL,
    stream_seq     INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    event_version  INTEGER NOT NULL,
    payload        TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    environment    TEXT    NOT NULL,
    request_id     TEXT,
    prev_hash      BLOB    NOT NULL,
    hash           BLOB    NOT NULL,
    -- The request behind the event (audit log): null for the sweeper, the CLI and older rows.
    request_method TEXT,
    request_path   TEXT,
    ip_address     TEXT,
    UNIQUE (stream_id, stream_seq)
);

CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TABLE IF NOT EXISTS subject_keys (
    subject_id  TEXT PRIMARY KEY,
    wrapped_key BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS idempotency_records (
    environment  TEXT    NOT NULL,
    api_key_id   TEXT    NOT NULL,
    idem_key     TEXT    NOT NULL,
    fingerprint  BLOB    NOT NULL,
    status_code  INTEGER NOT NULL,
    sealed_body  BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (environment, api_key_id, idem_key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- ---------------------------------------------------------------- views (rebuilt by replay)

CREATE TABLE IF NOT EXISTS api_keys (
    id                     TEXT PRIMARY KEY,
    key_type               TEXT NOT NULL,
    environment            TEXT NOT NULL,
    key_prefix             TEXT NOT NULL,
    secret_hash            BLOB NOT NULL UNIQUE,
    scopes                 TEXT NOT NULL,
    allowed_ips            TEXT,
    api_version            TEXT NOT NULL,
    default_key_inflection TEXT NOT NULL,
    label                  TEXT,
    note                   TEXT,
    expires_at             TEXT,
    is_active              INTEGER NOT NULL,
    cloned_from            TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    rate_limit_rpm         INTEGER
);
-- key_type 'verifyhq': a VerifyHQ API client (vhq_live_/vhq_test_ secret); its `scopes` are VerifyHQ
-- permissions and `rate_limit_rpm` its own limit (null: the server's).

-- `blind_keys`: the identity's blind-index keys (the first 16 bytes of each digest, see
-- crypto::BLIND_INDEX_KEY_BYTES), one after another in the order of their kinds; null for none. `blind_seq`:
-- the log position of the event that last wrote them (null with none), by which the lookup's in-memory copy
-- catches up (store::blind_keys), from this index alone (it carries the keys, so the catch-up never reads
-- the rows, whose sealed data spills onto overflow pages); the digests are keyed hashes, random by design, so
-- a table keyed by them cost a random page per key in every commit.
CREATE TABLE IF NOT EXISTS identities (
    id                       TEXT PRIMARY KEY,
    environment              TEXT NOT NULL,
    external_ref             TEXT,
    status                   TEXT NOT NULL,
    session_count            INTEGER NOT NULL,
    latest_session_id        TEXT,
    latest_result_id         TEXT,
    face_match_passed        INTEGER,
    age_check_passed         INTEGER,
    extracted_age            INTEGER,
    rejection_reason         TEXT,
    country                  TEXT,
    identity_type_id         TEXT,
    screening_status         TEXT,
    monitoring_enabled       INTEGER NOT NULL,
    monitoring_paused_reason TEXT,
    is_flagged               INTEGER NOT NULL,
    flag_reason              TEXT,
    flagged_at               TEXT,
    flagged_by               TEXT,
    merged_into              TEXT,
    pii                      TEXT NOT NULL,
    first_verified_at        TEXT,
    last_verified_at         TEXT,
    archived_at              TEXT,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL,
    stream_seq               INTEGER NOT NULL,
    blind_keys               BLOB,
    blind_seq                INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS identities_external_ref
    ON identities (environment, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS identities_by_env ON identities (environment, id);
CREATE INDEX IF NOT EXISTS identities_by_blind_seq
    ON identities (blind_seq, blind_keys) WHERE blind_seq IS NOT NULL;

CREATE TABLE IF NOT EXISTS identity_tags (
    identity_id TEXT NOT NULL,
    tag         TEXT NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (identity_id, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identity_tags_by_tag ON identity_tags (tag);

CREATE TABLE IF NOT EXISTS identity_custom_fields (
    identity_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (identity_id, name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS relationships (
    id                  TEXT PRIMARY KEY,
    environment         TEXT NOT NULL,
    source_identity_id  TEXT NOT NULL,
    related_identity_id TEXT NOT NULL,
    relationship_type   TEXT NOT NULL,
    is_system           INTEGER NOT NULL,
    note                TEXT,
    metadata            TEXT NOT NULL,
    pair_id             TEXT NOT NULL,
    created_at          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS relationships_by_source ON relationships (source_identity_id, relationship_type);
CREATE INDEX IF NOT EXISTS relationships_by_pair ON relationships (pair_id);

CREATE TABLE IF NOT EXISTS relationship_types (
    id            TEXT PRIMARY KEY,
    environment   TEXT NOT NULL,
    name          TEXT NOT NULL,
    label         TEXT NOT NULL,
    inverse_label TEXT NOT NULL,
    description   TEXT,
    is_active     INTEGER NOT NULL,
    is_deleted    INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS relationship_types_name
    ON relationship_types (environment, name) WHERE is_deleted = 0;

CREATE TABLE IF NOT EXISTS identity_types (
    id             TEXT PRIMARY KEY,
    environment    TEXT NOT NULL,
    name           TEXT NOT NULL,
    label          TEXT NOT NULL,
    description    TEXT,
    statuses       TEXT NOT NULL,
    default_status TEXT,
    is_default     INTEGER NOT NULL,
    is_deleted     INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS identity_types_name
    ON identity_types (environment, name) WHERE is_deleted = 0;

CREATE TABLE IF NOT EXISTS custom_field_definitions (
    id               TEXT PRIMARY KEY,
    environment      TEXT NOT NULL,
    identity_type_id TEXT NOT NULL,
    name             TEXT NOT NULL,
    label            TEXT NOT NULL,
    field_type       TEXT NOT NULL,
    is_required      INTEGER NOT NULL,
    is_unique        INTEGER NOT NULL,
    is_encrypted     INTEGER NOT NULL,
    enum_values      TEXT,
    validation_regex TEXT,
    sort_order       INTEGER NOT NULL,
    is_deleted       INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS custom_field_definitions_by_type
    ON custom_field_definitions (identity_type_id);

-- The audit view: one row per event that concerns an identity, without values, newest-first reads.
CREATE TABLE IF NOT EXISTS identity_audit (
    id           INTEGER PRIMARY KEY,
    event_seq    INTEGER NOT NULL,
    event_id     TEXT NOT NULL,
    identity_id  TEXT NOT NULL,
    environment  TEXT NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    fields       TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identity_audit_by_identity ON identity_audit (identity_id, id);

-- ---------------------------------------------------------------- sessions (views)

CREATE TABLE IF NOT EXISTS sessions (
    id                  TEXT PRIMARY KEY,
    environment         TEXT NOT NULL,
    status              TEXT NOT NULL,
    external_ref        TEXT,
    metadata            TEXT NOT NULL,
    country             TEXT,
    checks              TEXT,
    workflow_id         TEXT,
    workflow_version    INTEGER,
    workflow_node       TEXT,
    document_type       TEXT,
    document_source     TEXT,
    document_data       TEXT,
    redirect_url        TEXT,
    send_email          INTEGER NOT NULL,
    invites_sent        INTEGER NOT NULL,
    retention_status    TEXT NOT NULL,
    processing_attempts INTEGER NOT NULL,
    consent_at          TEXT,
    consent_version     TEXT,
    consent_ip          TEXT,
    token_hash          TEXT,
    token_sealed        TEXT,
    token_expires_at    TEXT,
    prefill             TEXT,
    user_data           TEXT,
    ip_digest           BLOB,
    device_digest       BLOB,
    fraud_signals       TEXT NOT NULL,
    case_id             TEXT,
    case_status         TEXT,
    identity_id         TEXT,
    result_status       TEXT,
    result_json         TEXT,
    result_extracted    TEXT,
    decided_at          TEXT,
    started_at          TEXT,
    expired_at          TEXT,
    redacted_at         TEXT,
    sensitive_expired_at TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    stream_seq          INTEGER NOT NULL,
    selfie_phash        INTEGER,
    last_event_seq      INTEGER NOT NULL DEFAULT 0
);
-- selfie_phash: the selfie's 64-bit perceptual hash as an integer (the same value as
-- session_documents.phash). last_event_seq: the log position (events.seq) of the session's latest event.
-- The duplicate search keeps the enrolled hashes in memory and catches up through sessions_selfies_since
-- (the sessions with an event since it last looked); sessions_selfie_phash finds the identities behind a hash.
CREATE INDEX IF NOT EXISTS sessions_by_env ON sessions (environment, id);
CREATE INDEX IF NOT EXISTS sessions_selfie_phash ON sessions (environment, selfie_phash, identity_id, id)
    WHERE selfie_phash IS NOT NULL AND identity_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_selfies_since ON sessions (environment, last_event_seq, selfie_phash)
    WHERE selfie_phash IS NOT NULL AND identity_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_by_token ON sessions (token_hash);
CREATE INDEX IF NOT EXISTS sessions_by_identity ON sessions (identity_id);
CREATE INDEX IF NOT EXISTS sessions_by_ref ON sessions (environment, external_ref);
-- The risk rules' velocity counts (processing::evidence): a session's other sessions of the last day from
-- the same IP address or device, by digest and creation time. Sessions without fraud signals (API-only ones)
-- have neither digest and are left out.
CREATE INDEX IF NOT EXISTS sessions_by_ip_day ON sessions (environment, ip_digest, created_at)
    WHERE ip_digest IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_by_device_day ON sessions (environment, device_digest, created_at)
    WHERE device_digest IS NOT NULL;
-- What the sweeper looks for every second, so that it reads only those sessions, not the whole table:
-- capture tokens that may lapse, sessions left in processing, decided sessions not yet redacted.
CREATE INDEX IF NOT EXISTS sessions_awaiting_capture ON sessions (token_expires_at)
    WHERE status IN ('pending', 'capturing');
CREATE INDEX IF NOT EXISTS sessions_in_processing ON sessions (updated_at) WHERE status = 'processing';
CREATE INDEX IF NOT EXISTS sessions_retention_due ON sessions (environment, decided_at)
    WHERE decided_at IS NOT NULL AND retention_status != 'redacted';

CREATE TABLE IF NOT EXISTS session_tags (
    session_id TEXT NOT NULL,
    tag        TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (session_id, tag)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS session_documents (
    session_id  TEXT NOT NULL,
    doc_type    TEXT NOT NULL,
    mime_type   TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    blob_id     TEXT NOT NULL,
    phash       TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (session_id, doc_type)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS capture_links (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    status      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    consumed_at TEXT,
    -- Keyed hash of the capture-cookie secret given to the browser that consumed the link.
    browser_hash TEXT
);
CREATE INDEX IF NOT EXISTS capture_links_by_token ON capture_links (token_hash);
CREATE INDEX IF NOT EXISTS capture_links_by_session ON capture_links (session_id);

-- Uploaded files (document photos, selfies, liveness frames), sealed as their bytes under their subject's
-- data key (`DataKey::seal_image`; rows sealed earlier as base64 text open too). Not a view: image bytes are
-- too large for the log, which records only the blob id; erasure deletes the row (and the key).
CREATE TABLE IF NOT EXISTS sealed_blobs (
    blob_id    TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL,
    sealed     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sealed_blobs_by_subject ON sealed_blobs (subject_id);

-- Per-environment settings (retention windows), projected from SettingsUpdated events.
CREATE TABLE IF NOT EXISTS settings (
    environment TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (environment, name)
) WITHOUT ROWID;

-- ---------------------------------------------------------------- workflows (views)

CREATE TABLE IF NOT EXISTS workflows (
    id                 TEXT PRIMARY KEY,
    environment        TEXT NOT NULL,
    name               TEXT NOT NULL,
    description        TEXT,
    is_default         INTEGER NOT NULL,
    is_active          INTEGER NOT NULL,
    current_version    INTEGER NOT NULL,
    data_requirements  TEXT NOT NULL,
    screening_settings TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS workflows_by_env ON workflows (environment, id);

CREATE TABLE IF NOT EXISTS workflow_versions (
    workflow_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    format      TEXT NOT NULL,
    steps       TEXT,
    graph       TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    published_at TEXT,
    -- `wfd_` and the ULID of the event that drafted this version (schema version 8).
    draft_id    TEXT,
    PRIMARY KEY (workflow_id, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS workflow_versions_by_draft ON workflow_versions (draft_id);

-- One row per workflow run of a session: each entry into processing (submit, reprocess) starts one; an
-- external gate pauses it and its decision continues it; the decision ends it (schema version 8). Node
-- ids, statuses and times only, never subject data.
CREATE TABLE IF NOT EXISTS workflow_runs (
    session_id       TEXT NOT NULL,
    run              INTEGER NOT NULL,
    environment      TEXT NOT NULL,
    workflow_id      TEXT,
    workflow_version INTEGER,
    trigger          TEXT NOT NULL,
    status           TEXT NOT NULL,
    outcome          TEXT,
    started_at       TEXT NOT NULL,
    pass_started_at  TEXT NOT NULL,
    finished_at      TEXT,
    PRIMARY KEY (session_id, run)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS workflow_runs_by_workflow ON workflow_runs (workflow_id, started_at);

-- The nodes each run visited, in order, with what happened there and when the walk entered and left.
CREATE TABLE IF NOT EXISTS workflow_run_nodes (
    session_id  TEXT NOT NULL,
    run         INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    node        TEXT NOT NULL,
    node_type   TEXT,
    policy      TEXT,
    result      TEXT NOT NULL,
    next        TEXT,
    entered_at  TEXT NOT NULL,
    left_at     TEXT,
    PRIMARY KEY (session_id, run, position)
) WITHOUT ROWID;

-- ---------------------------------------------------------------- webhooks

-- View: webhook endpoints, projected from WebhookEndpoint* events. `secret_sealed` is the signing secret
-- sealed under the master key (bound to the endpoint id). `enabled_seq` is the seq of the event that last
-- enabled the endpoint (creation or re-enabling): only later events are delivered to it.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id                      TEXT PRIMARY KEY,
    environment             TEXT NOT NULL,
    url                     TEXT NOT NULL,
    label                   TEXT,
    description             TEXT,
    enabled                 INTEGER NOT NULL,
    enabled_events          TEXT NOT NULL,
    attribute_blocklist     TEXT NOT NULL,
    event_filter_conditions TEXT,
    api_version             TEXT,
    key_inflection          TEXT NOT NULL,
    secret_sealed           TEXT NOT NULL,
    cloned_from             TEXT,
    disabled_reason         TEXT,
    disabled_at             TEXT,
    enabled_seq             INTEGER NOT NULL,
    secret_rotated_at       TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    dialect                 TEXT,
    client_id               TEXT
);
-- dialect 'verifyhq': a VerifyHQ endpoint (A.8 event names, envelope, X-Webhook-Signature, 3 retries),
-- configured for `client_id`; null for a Verifa endpoint.
CREATE INDEX IF NOT EXISTS webhook_endpoints_by_env ON webhook_endpoints (environment, enabled);

-- Outbox state (NOT views: delivery progress is operational state, like idempotency_records; replay
-- leaves these tables alone). The dispatcher's cursor: the last event seq turned into deliveries.
CREATE TABLE IF NOT EXISTS webhook_outbox_cursor (
    name     TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per (endpoint, webhook event): the durable outbox. `event_data` is the event's canonical,
-- PII-free data; the body is built from it at each attempt with the endpoint's current format.
-- `next_attempt_at` (unix ms) is set while the delivery waits for an attempt, NULL once final.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id               TEXT PRIMARY KEY,
    endpoint_id      TEXT NOT NULL,
    environment      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_seq        INTEGER NOT NULL,
    event_type       TEXT NOT NULL,
    event_data       TEXT NOT NULL,
    event_created_at TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    manual_retry     INTEGER NOT NULL,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    completed_at     TEXT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due
    ON webhook_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- Every attempt of every delivery: what the receiver answered (status, latency, error, a short excerpt).
CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id      TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    attempted_at     TEXT NOT NULL,
    status_code      INTEGER,
    latency_ms       INTEGER NOT NULL,
    error            TEXT,
    response_excerpt TEXT,
    manual           INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;

-- Circuit breaker: deliveries that ended `failed` since the endpoint's last success, counted within the
-- endpoint's current enabled period (`epoch_seq` = its enabled_seq; re-enabling starts a new count).
CREATE TABLE IF NOT EXISTS webhook_endpoint_health (
    endpoint_id          TEXT PRIMARY KEY,
    epoch_seq            INTEGER NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    last_success_at      TEXT,
    last_failure_at      TEXT
) WITHOUT ROWID;

-- ---------------------------------------------------------------- screening (views)

-- Watchlist snapshots, projected from WatchlistSnapshotImported (one row per imported version) and
-- WatchlistMonitoringCompleted. Watchlists are public data and installation-wide (environment "system").
CREATE TABLE IF NOT EXISTS watchlist_versions (
    id                TEXT PRIMARY KEY,
    source            TEXT NOT NULL,
    list_source       TEXT NOT NULL,
    published         TEXT,
    content_digest    TEXT NOT NULL,
    entry_count       INTEGER NOT NULL,
    added             INTEGER NOT NULL,
    changed           INTEGER NOT NULL,
    removed           INTEGER NOT NULL,
    skipped           INTEGER NOT NULL,
    files             TEXT NOT NULL,
    imported_by       TEXT NOT NULL,
    imported_at       TEXT NOT NULL,
    monitoring_status TEXT NOT NULL,
    monitoring        TEXT,
    seq               INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS watchlist_versions_by_source ON watchlist_versions (source, seq);

-- The current entries of every list (plaintext: public government data), with the version that last
-- added or changed each one.
CREATE TABLE IF NOT EXISTS watchlist_entries (
    source      TEXT NOT NULL,
    entry_id    TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entry       TEXT NOT NULL,
    entry_hash  TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    PRIMARY KEY (source, entry_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS watchlist_entries_by_version ON watchlist_entries (version_id);

-- Background list imports (POST /watchlists/import): one row per upload, `importing` until its version is
-- recorded (`active`) or it ends without one (`failed`, with the error). Entries read so far wait in
-- watchlist_import_entries and join watchlist_entries only when the version is recorded.
CREATE TABLE IF NOT EXISTS watchlist_imports (
    id              TEXT PRIMARY KEY,
    source          TEXT NOT NULL,
    list_source     TEXT NOT NULL,
    status          TEXT NOT NULL,
    content_digest  TEXT NOT NULL,
    files           TEXT NOT NULL,
    bytes_total     INTEGER NOT NULL,
    entries_staged  INTEGER NOT NULL,
    entities_read   INTEGER,
    base_version_id TEXT,
    error           TEXT,
    started_by      TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    seq             INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS watchlist_imports_by_source ON watchlist_imports (source, seq);

-- The added, changed (removed = 0) and removed (removed = 1) entries of an import still running.
CREATE TABLE IF NOT EXISTS watchlist_import_entries (
    version_id  TEXT NOT NULL,
    entry_id    TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entry       TEXT,
    entry_hash  TEXT,
    removed     INTEGER NOT NULL,
    PRIMARY KEY (version_id, entry_id)
) WITHOUT ROWID;

-- Standalone checks (schk_*) and monitoring/session screening runs. `subject` holds sealed fields under
-- the data key of `key_owner` (the linked identity, else the check itself).
CREATE TABLE IF NOT EXISTS checks (
    id            TEXT PRIMARY KEY,
    environment   TEXT NOT NULL,
    check_type    TEXT NOT NULL,
    origin        TEXT NOT NULL,
    status        TEXT NOT NULL,
    provider      TEXT,
    error_reason  TEXT,
    note          TEXT,
    external_ref  TEXT,
    identity_id   TEXT,
    session_id    TEXT,
    batch_id      TEXT,
    subject_key   TEXT NOT NULL,
    key_owner     TEXT NOT NULL,
    subject       TEXT NOT NULL,
    threshold     REAL NOT NULL,
    list_versions TEXT NOT NULL,
    suppressed    TEXT NOT NULL,
    run           INTEGER NOT NULL,
    hit_count     INTEGER NOT NULL,
    total_hits    INTEGER NOT NULL,
    tags          TEXT NOT NULL,
    redacted_at   TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    completed_at  TEXT,
    stream_seq    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS checks_by_env ON checks (environment, id);
CREATE INDEX IF NOT EXISTS checks_by_identity ON checks (identity_id);
CREATE INDEX IF NOT EXISTS checks_by_session ON checks (session_id);

-- Every hit of every run; the check shows its current run's. `explanation` and `dismissal_reason` are
-- sealed (they quote the subject / a reviewer), the rest is list data and scores.
CREATE TABLE IF NOT EXISTS check_hits (
    id                TEXT PRIMARY KEY,
    check_id          TEXT NOT NULL,
    run               INTEGER NOT NULL,
    position          INTEGER NOT NULL,
    watchlist_id      TEXT NOT NULL,
    source            TEXT NOT NULL,
    entry_id          TEXT NOT NULL,
    entry_hash        TEXT NOT NULL,
    version_id        TEXT NOT NULL,
    entity_type       TEXT NOT NULL,
    matched_name      TEXT NOT NULL,
    matched_name_kind TEXT NOT NULL,
    score             REAL NOT NULL,
    features          TEXT NOT NULL,
    explanation       TEXT,
    entry             TEXT NOT NULL,
    dismissal_id      TEXT,
    dismissal_reason  TEXT,
    dismissed_by      TEXT,
    dismissed_at      TEXT
);
CREATE INDEX IF NOT EXISTS check_hits_by_check ON check_hits (check_id, run, position);

-- False-positive dismissals: this subject and this list entry, as it was when dismissed (entry_hash).
CREATE TABLE IF NOT EXISTS screening_dismissals (
    environment  TEXT NOT NULL,
    subject_key  TEXT NOT NULL,
    watchlist_id TEXT NOT NULL,
    entry_id     TEXT NOT NULL,
    entry_hash   TEXT NOT NULL,
    dismissal_id TEXT NOT NULL,
    check_id     TEXT NOT NULL,
    hit_id       TEXT NOT NULL,
    dismissed_by TEXT NOT NULL,
    dismissed_at TEXT NOT NULL,
    PRIMARY KEY (environment, subject_key, watchlist_id, entry_id)
) WITHOUT ROWID;

-- Spec §1.6.13: the lists an identity's monitoring is limited to (none = every list).
CREATE TABLE IF NOT EXISTS identity_monitored_lists (
    identity_id TEXT NOT NULL,
    list_id     TEXT NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (identity_id, list_id)
) WITHOUT ROWID;

-- Standalone checks under continuous monitoring (spec §1.9): a row while it is on.
CREATE TABLE IF NOT EXISTS check_monitoring (
    check_id    TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    enabled_at  TEXT NOT NULL
) WITHOUT ROWID;

-- The monitoring history: one row per subject (identity or check) per monitoring pass, from the passes a
-- `WatchlistMonitoringCompleted` event lists. Ids and counts only.
CREATE TABLE IF NOT EXISTS monitoring_passes (
    event_seq    INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    environment  TEXT NOT NULL,
    watchlist_id TEXT NOT NULL,
    version_id   TEXT NOT NULL,
    hits_before  INTEGER NOT NULL,
    hits_after   INTEGER NOT NULL,
    new_hit_ids  TEXT NOT NULL,
    check_id     TEXT,
    screened_at  TEXT NOT NULL,
    PRIMARY KEY (event_seq, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS monitoring_passes_by_subject ON monitoring_passes (subject_id, event_seq);

-- Findings (spec §1.4.1): everything that needs a human look, derived from the events that record it
-- (check hits, list matches, a session's duplicates and fraud signals). Ids and PII-free details only;
-- the acknowledgement note and the dismissal reason stay sealed (`*_owner` names whose data key opens
-- them: the person's the finding is about; `reason_aad` and `reason_field` what the seal is bound to).
CREATE TABLE IF NOT EXISTS findings (
    id                TEXT PRIMARY KEY,
    environment       TEXT NOT NULL,
    kind              TEXT NOT NULL,
    status            TEXT NOT NULL,
    source_id         TEXT NOT NULL,
    summary           TEXT NOT NULL,
    detail            TEXT NOT NULL,
    check_id          TEXT,
    identity_id       TEXT,
    session_id        TEXT,
    created_seq       INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    acknowledged_at   TEXT,
    acknowledged_by   TEXT,
    ack_note          TEXT,
    note_owner        TEXT,
    dismissed_at      TEXT,
    dismissed_by      TEXT,
    reason            TEXT,
    reason_owner      TEXT,
    reason_aad        TEXT,
    reason_field      TEXT,
    resolved_at       TEXT,
    stream_seq        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_by_env ON findings (environment, created_seq);
CREATE INDEX IF NOT EXISTS findings_by_check ON findings (check_id);
CREATE INDEX IF NOT EXISTS findings_by_session ON findings (session_id);
CREATE INDEX IF NOT EXISTS findings_by_identity ON findings (identity_id);

-- ---------------------------------------------------------------- custom lists (views)

-- Spec §1.10. Each list has its own data key (a `subject_keys` row keyed by the list id). Item values
-- and notes are sealed under it (base64, bound to list + item + part); nothing here is plaintext PII.
-- `scan` marks items every check must open (geolocation, face, a name without a date of birth); `seq`
-- is the seq of the event that added the item (insertion order).
CREATE TABLE IF NOT EXISTS custom_lists (
    id          TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    list_type   TEXT NOT NULL,
    match_mode  TEXT NOT NULL,
    is_active   INTEGER NOT NULL,
    item_count  INTEGER NOT NULL,
    archived_at TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    stream_seq  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS custom_lists_by_env ON custom_lists (environment, id);

CREATE TABLE IF NOT EXISTS custom_list_items (
    id          TEXT PRIMARY KEY,
    list_id     TEXT NOT NULL,
    environment TEXT NOT NULL,
    value       TEXT NOT NULL,
    notes       TEXT,
    scan        INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS custom_list_items_by_list ON custom_list_items (list_id, seq);
CREATE INDEX IF NOT EXISTS custom_list_items_scanned ON custom_list_items (list_id, scan);

-- Keyed blind digests of normalised item values (exact lookups), per (environment, kind).
CREATE TABLE IF NOT EXISTS custom_list_digests (
    item_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    list_id     TEXT NOT NULL,
    environment TEXT NOT NULL,
    digest      BLOB NOT NULL,
    PRIMARY KEY (item_id, kind)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS custom_list_digests_lookup ON custom_list_digests (environment, kind, digest, list_id);

-- Match records found during verification (ids, field names and scores only, never values).
CREATE TABLE IF NOT EXISTS list_matches (
    id                    TEXT PRIMARY KEY,
    environment           TEXT NOT NULL,
    session_id            TEXT NOT NULL,
    list_id               TEXT NOT NULL,
    list_item_id          TEXT NOT NULL,
    list_type             TEXT NOT NULL,
    match_mode            TEXT NOT NULL,
    score                 REAL NOT NULL,
    matched_field         TEXT NOT NULL,
    details               TEXT NOT NULL,
    is_false_positive     INTEGER NOT NULL,
    false_positive_reason TEXT,
    marked_at             TEXT,
    marked_by             TEXT,
    created_at            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS list_matches_by_session ON list_matches (session_id, list_item_id);

-- The session audit view: one row per session event, newest-first reads (`GET /sessions/{id}/events`).
CREATE TABLE IF NOT EXISTS session_audit (
    id           INTEGER PRIMARY KEY,
    event_seq    INTEGER NOT NULL,
    event_id     TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    environment  TEXT NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS session_audit_by_session ON session_audit (session_id, id);

-- Org users (reviewer accounts) and their dashboard login sessions. Email and display name are sealed
-- under the user's own data key (subject_keys); `email_digest` is the keyed blind index logins look up.
-- Sessions hold only a keyed hash of their token.
CREATE TABLE IF NOT EXISTS org_users (
    id              TEXT PRIMARY KEY,
    email_digest    BLOB NOT NULL UNIQUE,
    email_sealed    TEXT NOT NULL,
    name_sealed     TEXT NOT NULL,
    role            TEXT NOT NULL,
    status          TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    totp_sealed     TEXT,
    failed_logins   INTEGER NOT NULL,
    locked_until    TEXT,
    last_login_at   TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS org_user_sessions (
    session_id  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    ended_at    TEXT
);
CREATE INDEX IF NOT EXISTS org_user_sessions_user ON org_user_sessions (user_id);

-- Review cases (spec §1.8): one row per case, projected from its stream. Free text is sealed under the
-- case's own data key; reviewer ids are org user ids.
CREATE TABLE IF NOT EXISTS cases (
    id                  TEXT PRIMARY KEY,
    environment         TEXT NOT NULL,
    stream_seq          INTEGER NOT NULL,
    session_id          TEXT,
    identity_id         TEXT,
    status              TEXT NOT NULL,
    decision            TEXT,
    assigned_to         TEXT,
    claimed_at          TEXT,
    last_activity_at    TEXT NOT NULL,
    entered_review_at   TEXT NOT NULL,
    decided_at          TEXT,
    decided_by          TEXT,
    decision_notes      TEXT,
    rejection_reason    TEXT,
    recommendation      TEXT,
    recommended_by      TEXT,
    recommended_at      TEXT,
    escalated_to        TEXT,
    escalation_reason   TEXT,
    escalation_notes    TEXT,
    escalated_at        TEXT,
    metadata            TEXT NOT NULL DEFAULT '{}',
    tags                TEXT NOT NULL DEFAULT '[]',
    overrides           TEXT NOT NULL DEFAULT '[]',
    pii_corrections     TEXT NOT NULL DEFAULT '[]',
    is_demo             INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_queue ON cases (environment, status, entered_review_at, id);
CREATE INDEX IF NOT EXISTS cases_by_session ON cases (session_id);
-- Claimed cases, which the sweeper releases after inactivity (every second, without reading every case).
CREATE INDEX IF NOT EXISTS cases_claimed ON cases (id, last_activity_at)
    WHERE status = 'in_review' AND assigned_to IS NOT NULL;

CREATE TABLE IF NOT EXISTS case_notes (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    environment  TEXT NOT NULL,
    author       TEXT,
    body         TEXT NOT NULL,
    event_seq    INTEGER NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_notes_by_case ON case_notes (case_id, event_seq);

-- The org audit log (spec §1.16): one row per event of the log with a dotted action, the resource it
-- concerns and a small PII-free summary. Projected from every event, so `idv replay` rebuilds it.
CREATE TABLE IF NOT EXISTS audit_log (
    seq            INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    environment    TEXT NOT NULL,
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    actor          TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    request_method TEXT,
    request_path   TEXT,
    ip_address     TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_by_env ON audit_log (environment, seq);
CREATE INDEX IF NOT EXISTS audit_log_by_resource ON audit_log (resource_id, seq);

-- Documents (spec §1.3.1): standalone uploads and session uploads as one resource. The bytes are in
-- sealed_blobs under `subject_id`'s data key; `blob_id` is NULL once redacted. `extracted_data` is the
-- sealed field map of the latest extraction (base64), only field names in clear. Session rows are keyed
-- by (session_id, session_slot) so a re-upload to the slot replaces the document.
CREATE TABLE IF NOT EXISTS documents (
    id                      TEXT PRIMARY KEY,
    environment             TEXT NOT NULL,
    source                  TEXT NOT NULL,
    session_id              TEXT,
    session_slot            TEXT,
    identity_id             TEXT,
    subject_id              TEXT NOT NULL,
    document_type           TEXT NOT NULL,
    status                  TEXT NOT NULL,
    mime_type               TEXT NOT NULL,
    size_bytes              INTEGER NOT NULL,
    page_count              INTEGER,
    width                   INTEGER,
    height                  INTEGER,
    blob_id                 TEXT,
    poa_document_type       TEXT,
    poa_document_date       TEXT,
    metadata                TEXT NOT NULL,
    classification          TEXT,
    classification_confidence REAL,
    classification_signals  TEXT,
    extraction_id           TEXT,
    extracted_fields        TEXT NOT NULL DEFAULT '[]',
    extracted_data          TEXT,
    group_id                TEXT,
    version                 INTEGER NOT NULL,
    redacted_at             TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_env ON documents (environment, created_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS documents_by_session_slot ON documents (session_id, session_slot)
    WHERE session_slot IS NOT NULL;
CREATE INDEX IF NOT EXISTS documents_by_identity ON documents (identity_id);

CREATE TABLE IF NOT EXISTS document_extractions (
    id           TEXT PRIMARY KEY,
    document_id  TEXT NOT NULL,
    sources      TEXT NOT NULL,
    fields       TEXT NOT NULL,
    data         TEXT,
    confidence   REAL,
    event_seq    INTEGER NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS document_extractions_by_document ON document_extractions (document_id, event_seq);

-- The latest outcome of each check of a document.
CREATE TABLE IF NOT EXISTS document_checks (
    document_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    status       TEXT NOT NULL,
    requirement  TEXT NOT NULL,
    reason       TEXT,
    checked_at   TEXT NOT NULL,
    PRIMARY KEY (document_id, name)
) WITHOUT ROWID;

-- Custom document types (spec §1.3.2) and document groups (§1.3.3).
CREATE TABLE IF NOT EXISTS document_types (
    id                TEXT PRIMARY KEY,
    environment       TEXT NOT NULL,
    slug              TEXT NOT NULL,
    label             TEXT NOT NULL,
    category          TEXT NOT NULL,
    description       TEXT,
    extraction_hints  TEXT NOT NULL,
    check_suite       TEXT NOT NULL,
    is_active         INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (environment, slug)
);

CREATE TABLE IF NOT EXISTS document_groups (
    id                 TEXT PRIMARY KEY,
    environment        TEXT NOT NULL,
    name               TEXT NOT NULL,
    description        TEXT,
    classifications    TEXT NOT NULL,
    extraction_config  TEXT NOT NULL,
    check_config       TEXT NOT NULL,
    recency_config     TEXT NOT NULL,
    is_default         INTEGER NOT NULL,
    priority           INTEGER NOT NULL,
    is_active          INTEGER NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS document_groups_by_env ON document_groups (environment, priority, created_at);

-- ---------------------------------------------------------------- VerifyHQ dialect (view)

-- The workflow each VerifyHQ tier runs in an environment, created on the tier's first verification
-- (VerifyhqTierLinked events). A verification is a session on one of these workflows.
CREATE TABLE IF NOT EXISTS verifyhq_tiers (
    environment TEXT NOT NULL,
    tier        TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    PRIMARY KEY (environment, tier)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS verifyhq_tiers_by_workflow ON verifyhq_tiers (workflow_id);

-- VerifyHQ document verifications (VerifyhqDocumentAssessed events, on the front document's stream): the
-- outcome only; the images and what was read are the Verifa documents `id` (front) and `back_document_id`.
CREATE TABLE IF NOT EXISTS verifyhq_documents (
    id               TEXT PRIMARY KEY,
    environment      TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    document_type    TEXT NOT NULL,
    document_country TEXT NOT NULL,
    back_document_id TEXT,
    status           TEXT NOT NULL,
    fraud_indicators TEXT NOT NULL,
    confidence       REAL NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verifyhq_documents_by_user ON verifyhq_documents (environment, user_id, created_at);

-- VerifyHQ biometric duplicate checks (VerifyhqDedupChecked events), and the selfies they enrolled: the
-- perceptual hash beside the user (the image itself is sealed in sealed_blobs under the check's key).
CREATE TABLE IF NOT EXISTS verifyhq_dedup_checks (
    id          TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    threshold   REAL NOT NULL,
    enrolled    INTEGER NOT NULL,
    matches     TEXT NOT NULL,
    checked_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS verifyhq_enrollments (
    check_id    TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    selfie_hash INTEGER NOT NULL,
    blob_id     TEXT,
    enrolled_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verifyhq_enrollments_by_env ON verifyhq_enrollments (environment, user_id);

-- VerifyHQ watchlist subscriptions (VerifyhqWatchlist* events): which identity is watched for which user,
-- against which kinds of list. The watching itself is the identity's continuous monitoring.
CREATE TABLE IF NOT EXISTS verifyhq_subscriptions (
    id                TEXT PRIMARY KEY,
    environment       TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    identity_id       TEXT NOT NULL,
    status            TEXT NOT NULL,
    lists             TEXT NOT NULL,
    unavailable_lists TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    cancelled_at      TEXT
);
CREATE INDEX IF NOT EXISTS verifyhq_subscriptions_by_user ON verifyhq_subscriptions (environment, user_id);
CREATE INDEX IF NOT EXISTS verifyhq_subscriptions_by_identity ON verifyhq_subscriptions (identity_id, status);

-- VerifyHQ liveness sessions (VerifyhqLiveness* events): the challenges, which have their photo (the photos
-- are sealed in sealed_blobs under the session's key; `photo_hashes` are their perceptual hashes), and the
-- verdict. Expiry is `expires_at` read against the clock.
CREATE TABLE IF NOT EXISTS verifyhq_liveness (
    id               TEXT PRIMARY KEY,
    environment      TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    challenges       TEXT NOT NULL,
    completed        TEXT NOT NULL,
    photo_blobs      TEXT NOT NULL,
    photo_hashes     TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    decided          INTEGER NOT NULL,
    is_alive         INTEGER,
    confidence       REAL,
    anti_spoof_score REAL,
    reason           TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

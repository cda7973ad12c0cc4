//! Builds the application from a `Config`: opens the data folder, the master key, the store and the
//! writer, creates the first API keys on a fresh database, binds the listener (port 0 works) and runs
//! the HTTP server. Must not parse flags or environment variables.

use crate::auth::Authenticator;
use crate::clock::{Clock, SystemClock};
use crate::commands::api_keys::{self, CreateKey, NewSecret};
use crate::commands::writer::Writer;
use crate::commands::CommandMeta;
use crate::config::Config;
use crate::crypto::{Keyring, MasterKey};
use crate::domain::api_key::{ApiVersion, Environment, Inflection, KeyType, Scope};
use crate::error::{AppError, AppResult};
use crate::http;
use crate::idempotency::Idempotency;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::state::AppState;
use crate::store::{self, ReadPool};
use std::net::TcpListener;
use std::sync::Arc;

/// The store opened and the writer running, without HTTP (the CLI uses this too).
pub struct Core {
    pub writer: Writer,
    pub read: ReadPool,
    pub keyring: Arc<Keyring>,
    pub metrics: Arc<Metrics>,
    pub created_master_key: bool,
    /// Woken by every commit: the webhook dispatcher waits on it.
    pub webhook_wake: Arc<crate::webhooks::worker::Wake>,
    /// Woken by every commit of a stream someone waits on (`Prefer: wait` on a session in processing).
    pub stream_watch: Arc<crate::stream_watch::StreamWatch>,
}

pub fn load_master_key(config: &Config) -> AppResult<(MasterKey, bool)> {
    if let Some(hex) = &config.master_key_hex {
        return Ok((MasterKey::from_hex(hex).map_err(|e| AppError::Unavailable(e.to_string()))?, false));
    }
    MasterKey::load_or_create(&config.key_path()).map_err(|e| AppError::Unavailable(e.to_string()))
}

pub fn open_core(config: &Config) -> AppResult<Core> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| AppError::Unavailable(format!("cannot create data folder {}: {e}", config.data_dir.display())))?;
    let (master, created_master_key) = load_master_key(config)?;
    let keyring = Arc::new(Keyring::new(&master));
    drop(master);
    let db = config.database_path();
    let conn = store::open_writer(&db, config.durability)?;
    if !created_master_key {
        check_master_key_matches(&conn, &keyring)?;
    }
    fill_new_views(&conn, &keyring)?;
    let metrics = Arc::new(Metrics::default());
    let observed = metrics.clone();
    let gate = store::start_checkpointer(&conn, &db, config.durability, move |round| {
        observed.record_checkpoint(round.wal_frames, round.quiet_copy)
    })?;
    let read = ReadPool::open(&db, config.read_pool_size, config.read_threads)?;
    let webhook_wake = Arc::new(crate::webhooks::worker::Wake::new());
    let stream_watch = crate::stream_watch::StreamWatch::new();
    let hooks = vec![crate::webhooks::worker::commit_hook(webhook_wake.clone()), stream_watch.commit_hook()];
    let writer = Writer::start(conn, gate, keyring.clone(), metrics.clone(), hooks, config.writer_queue_capacity)?;
    Ok(Core { writer, read, keyring, metrics, created_master_key, webhook_wake, stream_watch })
}

/// A wrong key file would make every sealed value unreadable; refuse to start instead.
/// A database written before the audit-log view existed (schema version 2) has events but an empty
/// `audit_log`: the views are rebuilt from the log once, at open, so `/events` covers its whole history.
fn fill_new_views(conn: &rusqlite::Connection, keyring: &Keyring) -> AppResult<()> {
    let (events, audited, session_docs, docs): (i64, i64, i64, i64) = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM audit_log),
                (SELECT COUNT(*) FROM session_documents), (SELECT COUNT(*) FROM documents)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    // Likewise a database from before the documents view (schema version 6) has session uploads that
    // `/documents` must list; one from before schema version 8 has workflow versions without draft ids
    // (every environment has a workflow), no workflow runs, and hits and list matches that `/findings` must list.
    let unnamed_drafts: i64 =
        conn.query_row("SELECT COUNT(*) FROM workflow_versions WHERE draft_id IS NULL", [], |r| r.get(0))?;
    // One from before schema version 10 has sessions without their latest log position: all of them (the
    // upgrade adds the column as 0, the replay fills every row), so one row tells, without reading the table.
    let unpositioned_sessions: i64 = conn.query_row(
        "SELECT COUNT(*) FROM (SELECT last_event_seq FROM sessions LIMIT 1) WHERE last_event_seq = 0",
        [],
        |r| r.get(0),
    )?;
    let (sources, findings): (i64, i64) = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM check_hits)
                    + (SELECT COUNT(*) FROM list_matches WHERE match_mode != 'allow'),
                (SELECT COUNT(*) FROM findings)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if events > 0
        && (audited == 0
            || (session_docs > 0 && docs == 0)
            || unnamed_drafts > 0
            || (sources > 0 && findings == 0)
            || unpositioned_sessions > 0)
    {
        let replayed = store::replay::rebuild_in_place(conn, keyring)?;
        tracing::info!(events = replayed, "views rebuilt from the log to fill what a newer schema added");
    }
    Ok(())
}

fn check_master_key_matches(conn: &rusqlite::Connection, keyring: &Keyring) -> AppResult<()> {
    let first: Option<(Vec<u8>, Vec<u8>)> = conn
        .query_row("SELECT wrapped_key, subject_id FROM subject_keys LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get::<_, String>(1)?.into_bytes()))
        })
        .ok();
    if let Some((wrapped, subject)) = first {
        let subject = String::from_utf8_lossy(&subject).to_string();
        if keyring.unwrap_data_key(&subject, &wrapped).is_err() {
            return Err(AppError::Unavailable(
                "the master key does not match this database (wrong key file or IDV_MASTER_KEY)".into(),
            ));
        }
    }
    Ok(())
}

/// On a database without any API key, creates one sandbox and one live secret key with every scope.
pub async fn bootstrap_keys(writer: &Writer, read: &ReadPool, now: String) -> AppResult<Vec<NewSecret>> {
    let count: i64 = read.run(|c| Ok(c.query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))?)).await?;
    if count > 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for environment in [Environment::Sandbox, Environment::Live] {
        let env = environment.as_str();
        let meta = CommandMeta::untraced("system", env, now.clone());
        let input = CreateKey {
            key_type: KeyType::Secret,
            environment,
            scopes: Scope::ALL.to_vec(),
            allowed_ips: None,
            api_version: ApiVersion::CURRENT,
            default_key_inflection: Inflection::Snake,
            label: crate::domain::values::Label::parse("label", &format!("first {env} key")).ok(),
            note: crate::domain::values::LongText::parse("note", "created on first start").ok(),
            expires_at: None,
        };
        out.push(api_keys::create(writer, meta, input).await?);
    }
    // And a sandbox client of the VerifyHQ dialect (/v1), with every permission.
    let client = api_keys::CreateClient {
        name: crate::domain::values::Label::parse("label", "first VerifyHQ test client")
            .map_err(|e| AppError::Internal(format!("first client: {}", e.message)))?,
        environment: Environment::Sandbox,
        permissions: crate::domain::verifyhq::all_permissions(),
        rate_limit_rpm: None,
    };
    out.push(api_keys::create_client(writer, CommandMeta::untraced("system", "sandbox", now), client).await?);
    Ok(out)
}

/// The first dashboard user: an admin who can then create the reviewers on the admin page.
pub struct FirstAdmin {
    pub email: String,
    pub password: zeroize::Zeroizing<String>,
}

/// The email of the admin made on first start.
pub const FIRST_ADMIN_EMAIL: &str = "admin@idv.local";

async fn bootstrap_admin(writer: &Writer, keyring: Arc<crate::crypto::Keyring>, now: String) -> AppResult<FirstAdmin> {
    let invalid = |e: crate::error::FieldError| AppError::Internal(format!("first admin: {}: {}", e.field, e.message));
    let input = crate::commands::users::CreateUser {
        email: crate::domain::values::Email::parse("email", FIRST_ADMIN_EMAIL).map_err(invalid)?,
        name: crate::domain::values::PersonName::parse("name", "Administrator").map_err(invalid)?,
        role: crate::domain::user::Role::Admin,
        password: None,
    };
    let user =
        crate::commands::users::create(writer, keyring, CommandMeta::untraced("system", "live", now), input).await?;
    let password = user
        .generated_password
        .ok_or_else(|| AppError::Internal("the first admin was created without a generated password".into()))?;
    Ok(FirstAdmin { email: FIRST_ADMIN_EMAIL.into(), password })
}

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    pub first_keys: Vec<NewSecret>,
    /// The dashboard admin made on first start (`Config::bootstrap_admin`): email and generated password.
    pub first_admin: Option<FirstAdmin>,
    pub base_url: String,
    /// The server's own writer and read pool, so tests can drive `sweeper::run_once` against it.
    pub writer: Writer,
    pub read: ReadPool,
    /// The webhook outbox's loops, so tests can drive `run_once` (or stop them, as a crash would).
    pub webhooks: Arc<crate::webhooks::worker::Webhooks>,
    /// The processing service, so tests can drive `sweeper::run_once` and the pipeline against it.
    pub processing: crate::processing::Processing,
    /// The CPU pool, so tests can fill it as a burst of uploads would.
    pub cpu: crate::blocking::CpuPool,
}

impl Application {
    pub async fn build(config: Config) -> AppResult<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(mut config: Config, clock: Arc<dyn Clock>) -> AppResult<Self> {
        let core = open_core(&config)?;
        let first_keys = bootstrap_keys(&core.writer, &core.read, crate::clock::format(clock.now())).await?;
        let first_admin = if config.bootstrap_admin && !first_keys.is_empty() {
            Some(bootstrap_admin(&core.writer, core.keyring.clone(), crate::clock::format(clock.now())).await?)
        } else {
            None
        };
        crate::commands::workflows::ensure_defaults(&core.writer, crate::clock::format(clock.now())).await?;
        let listener = TcpListener::bind(&config.bind)
            .map_err(|e| AppError::Unavailable(format!("cannot listen on {}: {e}", config.bind)))?;
        let port = listener.local_addr().map_err(|e| AppError::Unavailable(e.to_string()))?.port();
        let host = config.bind.rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or_else(|| "127.0.0.1".into());
        let base_url = config.public_url.clone().unwrap_or_else(|| format!("http://{host}:{port}"));
        let workers = config.workers.max(1);
        if config.public_url.is_none() {
            config.public_url = Some(base_url.clone());
        }
        let (writer, read) = (core.writer.clone(), core.read.clone());
        let webhooks = crate::webhooks::worker::Webhooks::start(
            core.writer.clone(),
            core.read.clone(),
            core.keyring.clone(),
            clock.clone(),
            config.webhook_egress.clone(),
            core.webhook_wake.clone(),
            config.webhook_poll_interval,
        );
        // Watchlists: the snapshot from the views now; versions recorded later (API or `idv lists import` in
        // another process) are picked up, and monitored, by the watcher.
        let screening = crate::screening_service::ScreeningService::load(&core.read)?;
        let screening_deps = crate::screening_service::Deps {
            writer: core.writer.clone(),
            read: core.read.clone(),
            keyring: core.keyring.clone(),
            clock: clock.clone(),
        };
        crate::screening_service::spawn_watcher(
            screening.clone(),
            screening_deps,
            crate::screening_service::WATCH_INTERVAL,
        );
        let cpu = crate::blocking::CpuPool::sized_to_machine()?;
        let processing = crate::processing::Processing::new(
            core.writer.clone(),
            core.read.clone(),
            core.keyring.clone(),
            crate::face::FaceClient::new(config.face_provider_url.clone()),
            screening.clone(),
            cpu.clone(),
        );
        crate::sweeper::spawn(processing.clone(), clock.clone(), config.sweep_interval);
        let mrz = crate::checks::mrz_image::MrzService::start();
        if let Some(reason) = mrz.unavailable_reason() {
            tracing::warn!("{reason}; document photos cannot be read, and the document check reports them as not read");
        }
        let printed = crate::checks::printed::PrintedService::start();
        if let Some(reason) = printed.unavailable_reason() {
            tracing::warn!("{reason}; the document check reports printed fields as not read");
        }
        let ip_folder = config.ip_intelligence_path();
        let ip_intelligence = Arc::new(crate::ip_intelligence::IpIntelligence::load(&ip_folder));
        let state = Arc::new(AppState {
            mrz,
            printed,
            ip_intelligence,
            screening,
            cpu: cpu.clone(),
            processing: processing.clone(),
            stream_watch: core.stream_watch,
            auth: Authenticator::new(core.read.clone(), core.keyring.clone()),
            idempotency: Idempotency::new(core.read.clone(), core.writer.clone(), core.keyring.clone()),
            writer: core.writer,
            read: core.read,
            keyring: core.keyring,
            clock,
            rate_limiter: RateLimiter::default(),
            metrics: core.metrics,
            config,
        });
        let server = http::server(state, listener, workers)?;
        Ok(Application { port, server, first_keys, first_admin, base_url, writer, read, webhooks, processing, cpu })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }

    pub fn into_server(self) -> actix_web::dev::Server {
        self.server
    }
}

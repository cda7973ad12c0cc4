//! The `idv` command line: serve, keys, lists, replay, verify-log, backup. Reads flags and IDV_* variables
//! into a `Config` and hands it on; must not contain application logic.

use clap::{Parser, Subcommand, ValueEnum};
use idv::commands::api_keys::{self, CreateKey};
use idv::commands::CommandMeta;
use idv::config::Config;
use idv::domain::api_key::{ApiVersion, Environment, Inflection, KeyType, Scope};
use idv::startup::{self, Application};
use idv::store::{self, Durability};
use idv::webhooks::policy::{EgressPolicy, HostRule};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of glibc's allocator: answers are built on read-lane threads and freed on HTTP workers,
/// a pattern glibc's per-thread arenas handle poorly (a sixth of a read's time went to malloc and free).
/// Measured by `make bench`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "idv", version, about = "Self-hosted identity verification (KYC/AML) server")]
struct Cli {
    /// Folder holding idv.db (and master.key unless --key-file says otherwise).
    #[arg(long, global = true, env = "IDV_DATA_DIR", default_value = "./idv-data")]
    data_dir: PathBuf,
    /// Master key file (32 random bytes, hex). Keep it out of database backups.
    #[arg(long, global = true, env = "IDV_KEY_FILE")]
    key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Full,
    Normal,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        #[arg(long, env = "IDV_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// full: every answered write survives a power cut. normal: faster, may lose the last writes.
        #[arg(long, env = "IDV_DURABILITY", value_enum, default_value = "full")]
        durability: DurabilityArg,
        /// Requests per minute per API key.
        #[arg(long, env = "IDV_RATE_LIMIT_RPM", default_value_t = 1000)]
        rate_limit_rpm: u64,
        /// HTTP worker threads.
        #[arg(long, env = "IDV_WORKERS", default_value_t = 2)]
        workers: usize,
        /// Threads that run the API's reads, each with its own database connection (default: one per core).
        #[arg(long, env = "IDV_READ_THREADS")]
        read_threads: Option<usize>,
        /// Base URL printed for users, when idv runs behind a proxy.
        #[arg(long, env = "IDV_PUBLIC_URL")]
        public_url: Option<String>,
        /// An on-prem face-match service (JSON contract in the README); without one, live face matches
        /// go to review.
        #[arg(long, env = "IDV_FACE_PROVIDER_URL")]
        face_provider_url: Option<String>,
        /// Webhook receivers allowed (IP, CIDR, host or *.domain; repeat or comma-separate). Empty: any
        /// host not denied. Link-local and cloud metadata addresses are always refused.
        #[arg(long, env = "IDV_WEBHOOK_ALLOW", value_delimiter = ',')]
        webhook_allow: Vec<String>,
        /// Webhook receivers denied (same forms); deny wins over allow.
        #[arg(long, env = "IDV_WEBHOOK_DENY", value_delimiter = ',')]
        webhook_deny: Vec<String>,
        /// Let live webhook endpoints use plain http:// (default: https only).
        #[arg(long, env = "IDV_WEBHOOK_ALLOW_HTTP_LIVE")]
        webhook_allow_http_live: bool,
        /// Writes that may wait for the database; past that, writes answer 503 with Retry-After.
        #[arg(long, env = "IDV_WRITER_QUEUE", default_value_t = 8192)]
        writer_queue: usize,
        /// The X-Admin-Secret that lets POST /v1/admin/api-clients create VerifyHQ API clients (unset: that
        /// endpoint answers 403; `idv keys create --verifyhq` always works).
        #[arg(long, env = "IDV_ADMIN_SECRET", hide_env_values = true)]
        admin_secret: Option<String>,
        /// A folder of MaxMind-format .mmdb databases (City or Country, ASN) and threat lists
        /// (tor-exit-nodes.txt, datacenter-ranges.txt, vpn-ranges.txt, proxy-ranges.txt, known-abusers.txt)
        /// for POST /v1/intelligence/ip. Default: <data-dir>/ip-intelligence.
        #[arg(long, env = "IDV_IP_INTELLIGENCE_DIR")]
        ip_intelligence_dir: Option<std::path::PathBuf>,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Manage org users (reviewer accounts of the dashboard).
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Rebuild every view from the event log (stop the server first), or with --check compare a
    /// rebuild with the live views.
    Replay {
        #[arg(long)]
        check: bool,
    },
    /// Walk the event log's hash chain and name the first bad row.
    VerifyLog,
    /// Write an online, consistent copy of the live database to FILE.
    Backup { file: PathBuf },
    /// Watchlists (sanctions lists): import a published file as a new snapshot, list the versions.
    Lists {
        #[command(subcommand)]
        action: ListsAction,
    },
}

#[derive(Subcommand)]
enum ListsAction {
    /// Import a published list as its next snapshot (nothing is recorded when the file is identical to the
    /// current snapshot). For OFAC, FILE is sdn.csv; add.csv, alt.csv and sdn_comments.csv are read from
    /// beside it when present, or from --add/--alt/--comments. The server may keep running: it loads the
    /// new version within seconds and runs continuous monitoring against its changes.
    Import {
        file: PathBuf,
        #[arg(long, value_parser = ["ofac", "un", "eu", "uk", "opensanctions"])]
        source: String,
        /// OFAC addresses file (default: add.csv beside FILE).
        #[arg(long)]
        add: Option<PathBuf>,
        /// OFAC aliases file (default: alt.csv beside FILE).
        #[arg(long)]
        alt: Option<PathBuf>,
        /// OFAC remarks overflow file (default: sdn_comments.csv beside FILE).
        #[arg(long)]
        comments: Option<PathBuf>,
    },
    /// The lists and their current versions.
    List,
}

#[derive(Subcommand)]
enum UsersAction {
    /// Create an org user and print its id (and a generated password, once, when none is given).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// reviewer, senior_reviewer or admin.
        #[arg(long, default_value = "reviewer")]
        role: String,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a secret key with every scope (or the listed ones).
    Create {
        #[arg(long, default_value = "sandbox")]
        environment: String,
        #[arg(long)]
        label: Option<String>,
        /// Comma-separated scopes; default: all.
        #[arg(long)]
        scopes: Option<String>,
        /// A publishable key (may only create sessions).
        #[arg(long)]
        publishable: bool,
        /// A VerifyHQ API client key (vhq_test_ for sandbox, vhq_live_ for live) for the /v1 API;
        /// --scopes then lists VerifyHQ permissions (default: all).
        #[arg(long, conflicts_with = "publishable")]
        verifyhq: bool,
        /// The VerifyHQ client's requests per minute (default: the server's limit).
        #[arg(long, requires = "verifyhq")]
        rate_limit: Option<u32>,
    },
    /// List keys (never secrets).
    List,
    /// Revoke a key by id or prefix.
    Revoke { key: String },
}

fn config(cli: &Cli) -> Config {
    let mut c = Config::new(cli.data_dir.clone());
    c.key_file = cli.key_file.clone();
    c.master_key_hex = std::env::var("IDV_MASTER_KEY").ok().filter(|v| !v.is_empty());
    c
}

/// The webhook egress policy from its flags; a malformed rule stops startup.
fn webhook_egress(allow: &[String], deny: &[String], allow_http_live: bool) -> Result<EgressPolicy, String> {
    let parse = |rules: &[String]| -> Result<Vec<HostRule>, String> {
        rules.iter().filter(|r| !r.trim().is_empty()).map(|r| HostRule::parse(r).map_err(|e| e.to_string())).collect()
    };
    Ok(EgressPolicy { allow: parse(allow)?, deny: parse(deny)?, require_https_for_live: !allow_http_live })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IDV_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // IDV_LOG_FORMAT=json writes one JSON object per line, for log shippers.
    if std::env::var("IDV_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt().json().with_env_filter(filter).with_target(false).init();
    } else {
        // Colour only on a terminal: a log file or a pipe gets plain text.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).init();
    }
}

fn main() -> ExitCode {
    // Before anything opens SQLite, which takes a page cache only until it is first used.
    let page_cache = idv::store::page_cache::install();
    let cli = Cli::parse();
    init_logging();
    if let Err(e) = page_cache {
        tracing::warn!("{e}");
    }
    let result = actix_web::rt::System::new().block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("idv: {message}");
            ExitCode::FAILURE
        }
    }
}

fn now() -> String {
    idv::clock::format(time::OffsetDateTime::now_utc())
}

async fn run(cli: Cli) -> Result<(), String> {
    let mut cfg = config(&cli);
    match cli.command {
        Command::Serve {
            bind,
            durability,
            rate_limit_rpm,
            workers,
            read_threads,
            public_url,
            face_provider_url,
            webhook_allow,
            webhook_deny,
            webhook_allow_http_live,
            writer_queue,
            admin_secret,
            ip_intelligence_dir,
        } => {
            cfg.admin_secret = admin_secret.filter(|s| !s.is_empty());
            cfg.ip_intelligence_dir = ip_intelligence_dir;
            cfg.writer_queue_capacity = writer_queue;
            cfg.face_provider_url = face_provider_url;
            cfg.webhook_egress = webhook_egress(&webhook_allow, &webhook_deny, webhook_allow_http_live)?;
            cfg.bind = bind;
            cfg.durability = match durability {
                DurabilityArg::Full => Durability::Full,
                DurabilityArg::Normal => Durability::Normal,
            };
            cfg.rate_limit_rpm = rate_limit_rpm;
            cfg.workers = workers;
            if let Some(threads) = read_threads {
                cfg.read_threads = threads.max(1);
            }
            cfg.public_url = public_url;
            cfg.bootstrap_admin = true;
            let data_dir = cfg.data_dir.clone();
            let app = Application::build(cfg).await.map_err(|e| e.to_string())?;
            println!("idv listening on {}  (API base: {}/api/v1)", app.base_url, app.base_url);
            println!("data folder: {}", data_dir.display());
            if !app.first_keys.is_empty() {
                println!();
                println!("First start: these API keys are shown once and stored only as hashes.");
                for key in &app.first_keys {
                    println!("  {}  ({})", key.secret, key.id);
                }
                println!();
                println!("Try:  curl -H 'X-API-Key: <sandbox key>' {}/api/v1/identities", app.base_url);
                println!(
                    "VerifyHQ API (vhq_test_ key): curl -H 'X-API-Key: <vhq_test_ key>' -H 'Content-Type: application/json' \\\n      -d '{{\"userId\":\"user_1\",\"tier\":\"STANDARD\"}}' {}/v1/verifications/identity",
                    app.base_url
                );
                println!("API reference: {}/docs", app.base_url);
                println!("More keys: idv keys create --data-dir {} --environment sandbox|live", data_dir.display());
            }
            if let Some(admin) = &app.first_admin {
                println!();
                println!("Reviewer dashboard: {}/dashboard", app.base_url);
                println!(
                    "  admin login: {}  password: {}  (shown once; add reviewers on the Admin page)",
                    admin.email,
                    admin.password.as_str()
                );
            }
            app.run().await.map_err(|e| e.to_string())
        }
        Command::Keys { action } => keys(cfg, action).await,
        Command::Users { action } => users(cfg, action).await,
        Command::Lists { action } => lists(cfg, action).await,
        Command::Replay { check } => {
            let (master, _) = startup::load_master_key(&cfg).map_err(|e| e.to_string())?;
            let keyring = idv::crypto::Keyring::new(&master);
            let db = cfg.database_path();
            if !db.exists() {
                return Err(format!("no database at {}", db.display()));
            }
            if check {
                let scratch = cfg.data_dir.join(format!(".replay-check-{}.db", ulid::Ulid::new()));
                let n = store::replay::check(&db, &scratch, &keyring).map_err(|e| {
                    let _ = std::fs::remove_file(&scratch);
                    format!("replay check failed: {e}")
                })?;
                println!("replay check passed: {n} events rebuild views identical to the live ones");
            } else {
                let conn = store::open_writer(&db, Durability::Full).map_err(|e| e.to_string())?;
                let n = store::replay::rebuild_in_place(&conn, &keyring).map_err(|e| e.to_string())?;
                println!("replayed {n} events into fresh views");
            }
            Ok(())
        }
        Command::VerifyLog => {
            let (master, _) = startup::load_master_key(&cfg).map_err(|e| e.to_string())?;
            let keyring = idv::crypto::Keyring::new(&master);
            let db = cfg.database_path();
            let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
            let n = store::events::verify_chain(&conn, &keyring)
                .map_err(|e| format!("event log verification failed: {e}"))?;
            println!("event log verified: {n} rows, hash chain intact");
            Ok(())
        }
        Command::Backup { file } => {
            let db = cfg.database_path();
            let src = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
            // The backup holds the same sealed data as the database: owner-only (0600), like it.
            let mut dst = store::open_private(&file).map_err(|e| e.to_string())?;
            rusqlite::backup::Backup::new(&src, &mut dst)
                .and_then(|b| b.run_to_completion(256, std::time::Duration::from_millis(5), None))
                .map_err(|e| format!("backup failed: {e}"))?;
            drop(dst);
            store::restrict_files(&file).map_err(|e| e.to_string())?;
            println!("backup written to {} (the master key is not in it; back it up separately)", file.display());
            Ok(())
        }
    }
}

async fn keys(cfg: Config, action: KeysAction) -> Result<(), String> {
    let core = startup::open_core(&cfg).map_err(|e| e.to_string())?;
    match action {
        KeysAction::Create { environment, label, scopes, publishable: _, verifyhq: true, rate_limit } => {
            let env = Environment::parse_field("environment", &environment).map_err(|e| e.to_string())?;
            let permissions: Vec<String> = match scopes {
                Some(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
                None => idv::domain::verifyhq::all_permissions(),
            };
            let name = idv::domain::values::Label::parse("--label", label.as_deref().unwrap_or("VerifyHQ client"))
                .map_err(|e| format!("{}: {}", e.field, e.message))?;
            let meta = CommandMeta::untraced("cli", environment.clone(), now());
            let input = api_keys::CreateClient { name, environment: env, permissions, rate_limit_rpm: rate_limit };
            let secret = api_keys::create_client(&core.writer, meta, input).await.map_err(|e| e.to_string())?;
            println!("{}  ({})", secret.secret, secret.id);
            println!("Store this secret now; it will not be shown again.");
        }
        KeysAction::Create { environment, label, scopes, publishable, verifyhq: false, rate_limit: _ } => {
            let scopes: Vec<Scope> = match (publishable, scopes) {
                (true, _) => vec![Scope::SessionsCreate],
                (false, Some(s)) => s
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Scope::parse("scopes", s))
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?,
                (false, None) => Scope::ALL.to_vec(),
            };
            let env = Environment::parse_field("environment", &environment).map_err(|e| e.to_string())?;
            let meta = CommandMeta::untraced("cli", environment.clone(), now());
            let input = CreateKey {
                key_type: if publishable { KeyType::Publishable } else { KeyType::Secret },
                environment: env,
                scopes,
                allowed_ips: None,
                api_version: ApiVersion::CURRENT,
                default_key_inflection: Inflection::Snake,
                label: label
                    .map(|l| idv::domain::values::Label::parse("--label", &l))
                    .transpose()
                    .map_err(|e| format!("{}: {}", e.field, e.message))?,
                note: idv::domain::values::LongText::parse("note", "created with idv keys create").ok(),
                expires_at: None,
            };
            let secret = api_keys::create(&core.writer, meta, input).await.map_err(|e| e.to_string())?;
            println!("{}  ({})", secret.secret, secret.id);
            println!("Store this secret now; it will not be shown again.");
        }
        KeysAction::List => {
            let conn = core.read.get().map_err(|e| e.to_string())?;
            let page = idv::queries::Page { limit: 100, offset: 0 };
            let list = idv::queries::api_keys::list_all_kinds(&conn, page).map_err(|e| e.to_string())?;
            for key in list.data {
                println!(
                    "{}  {}  {}  {}  active={}  {}",
                    key.id,
                    key.key_prefix,
                    key.environment,
                    key.key_type,
                    key.is_active,
                    key.label.unwrap_or_default()
                );
            }
        }
        KeysAction::Revoke { key } => {
            let meta = CommandMeta::untraced("cli", "sandbox", now());
            let id = api_keys::revoke(&core.writer, meta, key).await.map_err(|e| e.to_string())?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

async fn users(cfg: Config, action: UsersAction) -> Result<(), String> {
    let core = startup::open_core(&cfg).map_err(|e| e.to_string())?;
    match action {
        UsersAction::Create { email, name, role, password_stdin } => {
            let field = |e: idv::error::FieldError| format!("{}: {}", e.field, e.message);
            let email = idv::domain::values::Email::parse("--email", &email).map_err(field)?;
            let name = idv::domain::values::PersonName::parse("--name", &name).map_err(field)?;
            let role = idv::domain::user::Role::parse_field("--role", &role).map_err(|e| e.to_string())?;
            let password = if password_stdin {
                let mut line = zeroize::Zeroizing::new(String::new());
                std::io::stdin().read_line(&mut line).map_err(|e| format!("cannot read the password: {e}"))?;
                Some(zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string()))
            } else {
                None
            };
            let meta = CommandMeta::untraced("cli", "live", now());
            let input = idv::commands::users::CreateUser { email, name, role, password };
            let user = idv::commands::users::create(&core.writer, core.keyring.clone(), meta, input)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", user.id);
            if let Some(password) = user.generated_password {
                println!("password: {}", password.as_str());
                println!("Store this password now; it will not be shown again.");
            }
        }
    }
    Ok(())
}

/// Progress over bytes read: a bar on a terminal, a line per tenth otherwise (logs, CI).
fn progress(total: u64) -> (indicatif::ProgressBar, idv::screening_service::files::OnRead) {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicU64, Ordering};
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        let style = indicatif::ProgressStyle::with_template("reading {bar:40} {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        let b = bar.clone();
        return (bar, std::sync::Arc::new(move |n| b.inc(n)));
    }
    let read = std::sync::Arc::new(AtomicU64::new(0));
    let on_read = std::sync::Arc::new(move |n: u64| {
        let before = read.fetch_add(n, Ordering::Relaxed);
        let tenth = |x: u64| (x.min(total) * 10).checked_div(total).unwrap_or(10);
        if n > 0 && tenth(before + n) > tenth(before) {
            eprintln!("reading: {}% ({} of {} bytes)", tenth(before + n) * 10, (before + n).min(total), total);
        }
    });
    (indicatif::ProgressBar::hidden(), on_read)
}

async fn lists(cfg: Config, action: ListsAction) -> Result<(), String> {
    use idv::screening_service::files;
    let core = startup::open_core(&cfg).map_err(|e| e.to_string())?;
    match action {
        ListsAction::Import { file, source, add, alt, comments } => {
            let sizes: u64 = [Some(&file), add.as_ref(), alt.as_ref(), comments.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
                .sum();
            let (bar, on_read) = progress(sizes);
            let (list_files, total) =
                files::open_files(&source, &file, add.as_deref(), alt.as_deref(), comments.as_deref(), on_read)?;
            bar.set_length(total);
            let names = list_files.names();
            let parsed = files::parse(&source, list_files).map_err(|e| e.to_string())?;
            bar.finish_and_clear();
            eprintln!(
                "read {} entries from {} ({} records skipped)",
                parsed.entries.len(),
                names.join(", "),
                parsed.skipped
            );
            let outcome = idv::commands::watchlists::import(
                &core.writer,
                "cli".into(),
                now(),
                None,
                source.clone(),
                parsed,
                names,
            )
            .await
            .map_err(|e| e.to_string())?;
            if outcome.unchanged {
                println!(
                    "{source}: unchanged (same content digest as version {}); nothing recorded",
                    outcome.version_id
                );
            } else {
                let c = outcome.counts;
                println!(
                    "{source}: version {} recorded: {} entries ({} added, {} changed, {} removed, {} skipped)",
                    outcome.version_id, c.total, c.added, c.changed, c.removed, c.skipped
                );
                println!(
                    "A running server loads it within seconds and runs continuous monitoring against the changes."
                );
            }
        }
        ListsAction::List => {
            let conn = core.read.get().map_err(|e| e.to_string())?;
            let list = idv::queries::watchlists::list(&conn).map_err(|e| e.to_string())?;
            let list = serde_json::to_value(list).map_err(|e| e.to_string())?;
            for w in list["data"].as_array().into_iter().flatten() {
                let v = &w["current_version"];
                if v.is_null() {
                    println!("{:<14} not imported", w["id"].as_str().unwrap_or_default());
                    continue;
                }
                println!(
                    "{:<14} {}  {} entries  imported {}  published {}  monitoring {}",
                    w["id"].as_str().unwrap_or_default(),
                    v["id"].as_str().unwrap_or_default(),
                    v["entry_count"],
                    v["imported_at"].as_str().unwrap_or_default(),
                    v["published"].as_str().unwrap_or("-"),
                    v["monitoring"]["status"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

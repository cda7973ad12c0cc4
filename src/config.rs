//! Typed configuration, built once (from flags and IDV_* variables in main, or by tests) and passed
//! in as a value. Must not read the environment or files itself.

use crate::store::Durability;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// e.g. `127.0.0.1:8080`; port 0 picks a free port.
    pub bind: String,
    /// Defaults to `<data_dir>/master.key`.
    pub key_file: Option<PathBuf>,
    /// 64 hex characters; takes precedence over the key file.
    pub master_key_hex: Option<String>,
    pub durability: Durability,
    pub rate_limit_rpm: u64,
    /// Pooled read connections, for scans and processing (`ReadPool::get`, `ReadPool::run_scan`).
    pub read_pool_size: u32,
    /// Threads of the read lane (`ReadPool::run`), each with its own connection; one per core by
    /// default. Few on purpose: a read waits in the lane's queue instead of another thread contending
    /// for the cores.
    pub read_threads: usize,
    pub json_body_limit: usize,
    pub workers: usize,
    /// Public base URL printed for users (defaults to http://<bind>).
    pub public_url: Option<String>,
    /// An on-prem face-match service (see `face`); none: live face matches go to review.
    pub face_provider_url: Option<String>,
    /// How often the sweeper applies time-based rules (token expiry, stuck processing).
    pub sweep_interval: std::time::Duration,
    /// Webhook egress: receiver allow/deny lists and whether live endpoints need https.
    pub webhook_egress: crate::webhooks::policy::EgressPolicy,
    /// How often the webhook loops poll (they are also woken by commits); `None` runs no loops.
    pub webhook_poll_interval: Option<std::time::Duration>,
    /// Commands that may wait for the writer; past that, writes are refused with 503 and Retry-After
    /// instead of queueing without bound.
    pub writer_queue_capacity: usize,
    /// On first start (no API key yet), also create a dashboard admin with a generated password
    /// (`idv serve` turns this on; embedded and test servers leave it off).
    pub bootstrap_admin: bool,
    /// The `X-Admin-Secret` of VerifyHQ's `POST /v1/admin/api-clients` (none: that endpoint is off).
    pub admin_secret: Option<String>,
    /// Where the operator puts `.mmdb` databases and threat lists for IP intelligence (default
    /// `<data_dir>/ip-intelligence`).
    pub ip_intelligence_dir: Option<PathBuf>,
}

impl Config {
    pub fn new(data_dir: PathBuf) -> Self {
        Config {
            data_dir,
            bind: "127.0.0.1:8080".into(),
            key_file: None,
            master_key_hex: None,
            durability: Durability::Full,
            rate_limit_rpm: 1000,
            read_pool_size: 16,
            read_threads: std::thread::available_parallelism().map_or(2, usize::from),
            json_body_limit: 1024 * 1024,
            workers: 2,
            public_url: None,
            sweep_interval: std::time::Duration::from_secs(1),
            webhook_egress: crate::webhooks::policy::EgressPolicy::default(),
            webhook_poll_interval: Some(std::time::Duration::from_secs(1)),
            face_provider_url: None,
            writer_queue_capacity: 8192,
            bootstrap_admin: false,
            admin_secret: None,
            ip_intelligence_dir: None,
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("idv.db")
    }

    pub fn ip_intelligence_path(&self) -> PathBuf {
        self.ip_intelligence_dir.clone().unwrap_or_else(|| self.data_dir.join("ip-intelligence"))
    }

    pub fn key_path(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

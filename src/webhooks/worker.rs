//! The webhook loops: a dispatcher that turns new events into deliveries (woken by the writer's commit
//! hook, plus a slow poll), and a sender that attempts due deliveries concurrently (egress check, sign,
//! POST, outside the writer) and records each attempt through the writer. Everything they act on is in
//! tables, so a restart or crash loses nothing: undispatched events are still after the cursor, and an
//! attempt whose result was never recorded is simply made again (same delivery id: at least once).
//! `run_once` does one dispatch + send pass at the injected clock's now, for tests.
//! Must not decide delivery policy (that is `policy`) or write tables except through `outbox`.

use super::outbox::{self, DueDelivery, Recorded, DISPATCH_BATCH};
use super::payload::{build_body, AttributeBlocklist, PayloadFormat, WebhookEvent};
use super::policy::{self, EgressPolicy, EgressRefusal, EgressTarget, ATTEMPT_TIMEOUT};
use super::sender::{self, AttemptResult};
use super::signing::{WebhookHeaders, WebhookSecret};
use crate::clock::Clock;
use crate::commands::writer::{CommitHook, Writer};
use crate::crypto::Keyring;
use crate::error::AppResult;
use crate::http::inflect::Inflection;
use crate::store::ReadPool;
use base64::Engine;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Attempts in flight at once (the background sender).
pub const MAX_IN_FLIGHT: usize = 64;
/// How often the dispatcher prunes old deliveries.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long a delivery waits for DNS before the attempt counts as failed.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Wake-ups between the writer and the loops.
#[derive(Debug)]
pub struct Wake {
    dispatch: Notify,
    send: Notify,
    /// Whether the dispatcher's last look found an enabled endpoint (true until it has looked). With none,
    /// no commit can create a delivery, so commits leave the loops asleep.
    endpoints_enabled: AtomicBool,
}

impl Default for Wake {
    fn default() -> Self {
        Wake { dispatch: Notify::new(), send: Notify::new(), endpoints_enabled: AtomicBool::new(true) }
    }
}

impl Wake {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records what the dispatcher found; when endpoints have just appeared, the sender looks at once for
    /// deliveries committed while the loops slept.
    fn endpoints_found(&self, enabled: bool) {
        if enabled && !self.endpoints_enabled.swap(true, Ordering::SeqCst) {
            self.send.notify_one();
        } else if !enabled {
            self.endpoints_enabled.store(false, Ordering::SeqCst);
        }
    }
}

/// The writer's commit hook: it only wakes the loops (no I/O on the writer thread). Deliveries are
/// usually created with their event, so the sender has work at once; the dispatcher catches up on the
/// rest. While no endpoint is enabled only an endpoint's own events wake them (the dispatcher then looks
/// again): waking two loops and reading the endpoints after every commit cost about 2.5% of the server's
/// CPU under the verification bench, with nothing to deliver. The loops' poll interval remains the
/// fallback.
pub fn commit_hook(wake: Arc<Wake>) -> CommitHook {
    Arc::new(move |events| {
        if wake.endpoints_enabled.load(Ordering::SeqCst)
            || events.iter().any(|e| e.event_type.starts_with(ENDPOINT_EVENT_PREFIX))
        {
            wake.dispatch.notify_one();
            wake.send.notify_one();
        }
    })
}

/// Every event of a webhook endpoint's stream (created, updated, disabled, deleted, tested) starts so.
const ENDPOINT_EVENT_PREFIX: &str = "WebhookEndpoint";

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub dispatched: usize,
    pub attempted: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
    pub endpoints_disabled: usize,
}

impl RunReport {
    fn add(&mut self, recorded: Recorded) {
        match recorded {
            Recorded::Delivered => self.delivered += 1,
            Recorded::Retrying(_) => self.retrying += 1,
            Recorded::Failed(disabled) => {
                self.failed += 1;
                self.endpoints_disabled += usize::from(disabled);
            }
            Recorded::Stale => return,
        }
        self.attempted += 1;
    }
}

pub struct Webhooks {
    writer: Writer,
    read: ReadPool,
    keyring: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    policy: EgressPolicy,
    wake: Arc<Wake>,
    loops: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Webhooks {
    pub fn new(
        writer: Writer,
        read: ReadPool,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        policy: EgressPolicy,
        wake: Arc<Wake>,
    ) -> Arc<Self> {
        Arc::new(Webhooks { writer, read, keyring, clock, policy, wake, loops: Mutex::new(Vec::new()) })
    }

    /// Builds the worker and, when `interval` is set, spawns its two loops on the current actix
    /// runtime (`None`: no background work; tests drive `run_once`).
    pub fn start(
        writer: Writer,
        read: ReadPool,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        policy: EgressPolicy,
        wake: Arc<Wake>,
        interval: Option<Duration>,
    ) -> Arc<Self> {
        let this = Self::new(writer, read, keyring, clock, policy, wake);
        if let Some(interval) = interval {
            let dispatcher = actix_web::rt::spawn(this.clone().dispatch_loop(interval));
            let sender = actix_web::rt::spawn(this.clone().send_loop(interval));
            if let Ok(mut loops) = this.loops.lock() {
                loops.push(dispatcher.abort_handle());
                loops.push(sender.abort_handle());
            }
        }
        this
    }

    /// Stops both loops at once, dropping attempts in flight unrecorded (what a crash does).
    pub fn shutdown(&self) {
        if let Ok(mut loops) = self.loops.lock() {
            for handle in loops.drain(..) {
                handle.abort();
            }
        }
    }

    /// Dispatches until the cursor has caught up; returns the deliveries created.
    pub async fn dispatch_all(&self) -> AppResult<usize> {
        let mut created = 0;
        loop {
            let outlook = self.read.run_scan(outbox::dispatch_outlook).await?;
            self.wake.endpoints_found(outlook.endpoints_enabled);
            if !outlook.pending {
                break;
            }
            let now = self.clock.now();
            let outcome = self.writer.execute(move |w| outbox::dispatch_in(w.conn, now, DISPATCH_BATCH)).await?;
            created += outcome.created;
            if outcome.caught_up {
                break;
            }
        }
        if created > 0 {
            self.wake.send.notify_one();
        }
        Ok(created)
    }

    /// Attempts every delivery due now, concurrently, and waits for all of them to be recorded.
    pub async fn send_due(&self) -> AppResult<RunReport> {
        let client = sender::client();
        let now_ms = outbox::unix_ms(self.clock.now());
        let due = self.read.run_scan(move |c| outbox::due(c, now_ms, 100_000)).await?;
        let mut report = RunReport::default();
        for chunk in due.chunks(MAX_IN_FLIGHT) {
            let results = futures_util::future::join_all(chunk.iter().map(|d| self.attempt(&client, d.clone()))).await;
            for recorded in results {
                report.add(recorded?);
            }
        }
        Ok(report)
    }

    /// One pass at the clock's now: dispatch, then send what is due; again when that disabled an
    /// endpoint, so the breaker's notice goes out in the same pass.
    pub async fn run_once(&self) -> AppResult<RunReport> {
        let mut total = RunReport::default();
        loop {
            let dispatched = self.dispatch_all().await?;
            let report = self.send_due().await?;
            total.dispatched += dispatched;
            total.attempted += report.attempted;
            total.delivered += report.delivered;
            total.retrying += report.retrying;
            total.failed += report.failed;
            total.endpoints_disabled += report.endpoints_disabled;
            if report.endpoints_disabled == 0 {
                return Ok(total);
            }
        }
    }

    fn open_secret(&self, d: &DueDelivery) -> Result<WebhookSecret, String> {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&d.secret_sealed)
            .map_err(|_| "the endpoint's signing secret is malformed".to_string())?;
        let text = self
            .keyring
            .open_webhook_secret(&d.endpoint_id, &sealed)
            .map_err(|_| "the endpoint's signing secret could not be opened".to_string())?;
        WebhookSecret::parse(&text).map_err(|_| "the endpoint's signing secret is malformed".to_string())
    }

    fn body(d: &DueDelivery) -> Result<Vec<u8>, String> {
        let data = serde_json::from_str(&d.event_data).map_err(|e| format!("stored event data unreadable: {e}"))?;
        let event = WebhookEvent::new(d.event_id.clone(), d.event_type.clone(), d.event_created_at.clone(), data)
            .map_err(|e| e.to_string())?;
        if d.dialect.as_deref() == Some(crate::domain::webhook::VERIFYHQ_DIALECT) {
            return Ok(super::verifyhq::body(&event));
        }
        let entries: Vec<String> = serde_json::from_str(&d.attribute_blocklist).unwrap_or_default();
        let blocklist = AttributeBlocklist::parse(&entries).map_err(|e| e.to_string())?;
        let format = PayloadFormat {
            api_version: d.api_version.clone(),
            inflection: Inflection::parse(&d.key_inflection).unwrap_or(Inflection::Snake),
            blocklist,
        };
        Ok(build_body(&event, &format))
    }

    /// The egress policy, with a fresh resolution; the attempt connects to the checked addresses.
    async fn egress(&self, url: &str, live: bool) -> Result<EgressTarget, EgressRefusal> {
        let target = policy::parse_receiver_url(url, live, &self.policy)?;
        let ips = match target.literal_ip {
            Some(ip) => vec![ip],
            None => {
                let (host, port) = (target.host.clone(), target.port);
                let lookup = actix_web::rt::task::spawn_blocking(move || policy::resolve(&host, port));
                match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                    Ok(Ok(Ok(ips))) => ips,
                    _ => Vec::new(),
                }
            }
        };
        policy::check_resolved(target, &ips, &self.policy)
    }

    async fn try_send(&self, client: &awc::Client, d: &DueDelivery) -> AttemptResult {
        let refused = |error: String| AttemptResult {
            status: None,
            latency_ms: 0,
            error: Some(error),
            response_excerpt: String::new(),
        };
        let secret = match self.open_secret(d) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(delivery_id = %d.id, endpoint_id = %d.endpoint_id, "{e}");
                return refused(e);
            }
        };
        let body = match Self::body(d) {
            Ok(b) => b,
            Err(e) => return refused(e),
        };
        let target = match self.egress(&d.url, d.environment == "live").await {
            Ok(t) => t,
            Err(e) => return refused(format!("egress policy refused the receiver: {e}")),
        };
        let t = self.clock.now().unix_timestamp();
        let headers = match d.dialect.as_deref() {
            Some(crate::domain::webhook::VERIFYHQ_DIALECT) => {
                super::verifyhq::headers(&secret, &d.id, &d.event_type, &body)
            }
            _ => WebhookHeaders::build(&secret, &d.id, t, &body),
        };
        drop(secret);
        sender::deliver_to(client, &d.url, target.addrs.first().copied(), &headers, &body, ATTEMPT_TIMEOUT).await
    }

    /// One attempt of one delivery, recorded through the writer.
    async fn attempt(&self, client: &awc::Client, d: DueDelivery) -> AppResult<Recorded> {
        let attempted_at = self.clock.now();
        let result = self.try_send(client, &d).await;
        let now = self.clock.now();
        let attempt = d.attempts + 1;
        tracing::debug!(
            delivery_id = %d.id,
            endpoint_id = %d.endpoint_id,
            event = %d.event_type,
            attempt,
            status = ?result.status,
            latency_ms = result.latency_ms,
            "webhook attempt"
        );
        let id = d.id.clone();
        let recorded = self
            .writer
            .execute(move |w| crate::commands::webhooks::record_attempt_in(w, &id, attempt, &result, attempted_at, now))
            .await?;
        if let Recorded::Failed(disabled) = recorded {
            tracing::warn!(delivery_id = %d.id, endpoint_id = %d.endpoint_id, disabled, "webhook delivery failed");
        }
        Ok(recorded)
    }

    /// Removes finished deliveries past [`outbox::DELIVERY_RETENTION`] and those of deleted endpoints.
    pub async fn prune(&self) -> AppResult<usize> {
        let mut removed = 0;
        loop {
            let now = self.clock.now();
            let n = self.writer.execute(move |w| outbox::prune_in(w.conn, now)).await?;
            removed += n;
            if n == 0 {
                return Ok(removed);
            }
        }
    }

    async fn dispatch_loop(self: Arc<Self>, interval: Duration) {
        let mut pruned_at: Option<std::time::Instant> = None;
        loop {
            if let Err(e) = self.dispatch_all().await {
                tracing::warn!(error = %e, "webhook dispatch failed");
            }
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(std::time::Instant::now());
                if let Err(e) = self.prune().await {
                    tracing::warn!(error = %e, "webhook delivery pruning failed");
                }
            }
            tokio::select! {
                _ = self.wake.dispatch.notified() => {}
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Keeps up to [`MAX_IN_FLIGHT`] attempts running; dropping it (abort) drops them all.
    async fn send_loop(self: Arc<Self>, interval: Duration) {
        let client = Rc::new(sender::client());
        let mut running: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
        let mut in_flight: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut refill = true;
        loop {
            if refill && running.len() < MAX_IN_FLIGHT {
                let room = MAX_IN_FLIGHT - running.len();
                let busy: HashSet<String> = in_flight.values().cloned().collect();
                let now_ms = outbox::unix_ms(self.clock.now());
                let limit = (room + busy.len()) as i64;
                let due = self.read.run_scan(move |c| outbox::due(c, now_ms, limit)).await;
                match due {
                    Ok(due) => {
                        let fresh: Vec<DueDelivery> =
                            due.into_iter().filter(|d| !busy.contains(&d.id)).take(room).collect();
                        for d in fresh {
                            let (this, client, id) = (self.clone(), client.clone(), d.id.clone());
                            let handle = running.spawn_local(async move {
                                if let Err(e) = this.attempt(&client, d).await {
                                    tracing::warn!(error = %e, "webhook attempt could not be recorded");
                                }
                            });
                            in_flight.insert(handle.id(), id);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "webhook sender could not read due deliveries"),
                }
            }
            refill = tokio::select! {
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    let id = match done {
                        Ok((id, ())) => id,
                        Err(e) => e.id(),
                    };
                    in_flight.remove(&id);
                    running.len() <= MAX_IN_FLIGHT / 2
                }
                _ = self.wake.send.notified() => true,
                _ = tokio::time::sleep(interval) => true,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events::StoredEvent;

    fn event(event_type: &str) -> StoredEvent {
        StoredEvent {
            seq: 1,
            event_id: "evt_1".into(),
            stream_id: "stream".into(),
            stream_seq: 1,
            event_type: event_type.into(),
            event_version: 1,
            payload: serde_json::Value::Null,
            recorded_at: "2026-12-07T00:00:00Z".into(),
            actor: "test".into(),
            environment: "sandbox".into(),
            request_id: None,
            origin: None,
        }
    }

    async fn woken(signal: &Notify) -> bool {
        tokio::time::timeout(Duration::from_millis(20), signal.notified()).await.is_ok()
    }

    #[tokio::test]
    async fn commits_wake_the_loops_only_while_an_endpoint_may_be_enabled() {
        let wake = Arc::new(Wake::new());
        let hook = commit_hook(wake.clone());
        hook(&[event("IdentityCreated")]);
        assert!(woken(&wake.dispatch).await && woken(&wake.send).await, "until the dispatcher has looked");

        wake.endpoints_found(false);
        hook(&[event("IdentityCreated"), event("SessionDecided")]);
        assert!(!woken(&wake.dispatch).await && !woken(&wake.send).await, "no endpoint: nothing to deliver");

        hook(&[event("IdentityCreated"), event("WebhookEndpointCreated")]);
        assert!(woken(&wake.dispatch).await, "an endpoint's event makes the dispatcher look again");
        assert!(woken(&wake.send).await);

        wake.endpoints_found(true);
        assert!(woken(&wake.send).await, "endpoints that appear send what was committed meanwhile");
        hook(&[event("IdentityCreated")]);
        assert!(woken(&wake.dispatch).await && woken(&wake.send).await, "with an endpoint every commit wakes");
        wake.endpoints_found(true);
        assert!(!woken(&wake.send).await, "only the change from none to some wakes the sender");
    }
}

//! What every request handler can reach (`AppState`): the writer, the read pool, keys, clock, caches and
//! the screening service, the processing service, and the one way a handler reads (`read`). Startup builds it; must not open or
//! configure anything itself.

use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::commands::writer::Writer;
use crate::config::Config;
use crate::crypto::Keyring;
use crate::error::AppResult;
use crate::idempotency::Idempotency;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::store::{ReadOnly, ReadPool};
use std::future::Future;
use std::sync::Arc;

/// Everything a request handler can reach.
pub struct AppState {
    pub writer: Writer,
    pub read: ReadPool,
    pub keyring: Arc<Keyring>,
    pub clock: Arc<dyn Clock>,
    pub auth: Authenticator,
    pub rate_limiter: RateLimiter,
    pub idempotency: Idempotency,
    pub metrics: Arc<Metrics>,
    pub config: Config,
    /// The loaded watchlists (screening snapshot) and the monitoring driver.
    pub screening: crate::screening_service::ScreeningService,
    /// The machine's pool for CPU-heavy work (uploads' preparation, screening, reports); the processing
    /// service shares it.
    pub cpu: crate::blocking::CpuPool,
    /// The session pipeline (submit, reprocess, external decisions, simulations).
    pub processing: crate::processing::Processing,
    /// Holds a read until its stream's next commit (`Prefer: wait` on a session in processing).
    pub stream_watch: Arc<crate::stream_watch::StreamWatch>,
    /// Reads the machine-readable zone of uploaded document photos (or says why it cannot).
    pub mrz: crate::checks::mrz_image::MrzService,
    /// Reads the printed text of uploaded document photos with Tesseract (or says why it cannot).
    pub printed: crate::checks::printed::PrintedService,
    /// The IP databases and threat lists the operator put in the IP intelligence folder.
    pub ip_intelligence: Arc<crate::ip_intelligence::IpIntelligence>,
}

impl AppState {
    pub fn now(&self) -> String {
        crate::clock::format(self.clock.now())
    }

    pub fn today(&self) -> time::Date {
        self.clock.now().date()
    }

    /// Runs a read (`queries::...`) on a read-only connection, on the read lane, inside the request's
    /// span, so the async worker keeps serving while SQLite and decryption run. Refused (503) when the lane
    /// is full, unless the request has already written (see [`serving_request`]).
    pub fn read<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&ReadOnly) -> AppResult<T> + Send + 'static,
    {
        self.read.run(f)
    }

    /// A read that may take long (a whole list exported): on the blocking pool, off the read lane.
    pub fn read_scan<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&ReadOnly) -> AppResult<T> + Send + 'static,
    {
        self.read.run_scan(f)
    }
}

/// Serves one request (the HTTP layer wraps each in it) so that its reads after its own committed write
/// wait their turn instead of being refused: a 503 then would ask the client to repeat a write that is done.
pub async fn serving_request<F: Future>(request: F) -> F::Output {
    crate::store::within_request(request).await
}

//! In-process metrics rendered as Prometheus text: requests by route and status, a latency histogram,
//! writer batch sizes, events appended, the WAL's length and the copies made in the writer's pauses.
//! Must not record PII, ids or keys (routes are patterns).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const LATENCY_BUCKETS_MS: &[f64] = &[1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    total: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, b) in bounds.iter().enumerate() {
            if value <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += value;
        self.total += 1;
    }

    fn render(&self, out: &mut String, name: &str, bounds: &[f64]) {
        for (i, b) in bounds.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.total);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.total);
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<Histogram>,
    batches: Mutex<Histogram>,
    events_appended: AtomicU64,
    wal_frames: AtomicU64,
    quiet_copies: Mutex<Histogram>,
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, millis: f64) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        }
        if let Ok(mut h) = self.latency.lock() {
            h.observe(LATENCY_BUCKETS_MS, millis);
        }
    }

    pub fn record_batch(&self, commands: usize, events: usize) {
        if let Ok(mut h) = self.batches.lock() {
            h.observe(BATCH_BUCKETS, commands as f64);
        }
        self.events_appended.fetch_add(events as u64, Ordering::Relaxed);
    }

    /// What a checkpoint round left: the WAL's length, and how long its copy in the writer's pause took.
    pub fn record_checkpoint(&self, wal_frames: i64, quiet_copy: Option<std::time::Duration>) {
        self.wal_frames.store(wal_frames.max(0) as u64, Ordering::Relaxed);
        if let (Some(copy), Ok(mut h)) = (quiet_copy, self.quiet_copies.lock()) {
            h.observe(LATENCY_BUCKETS_MS, copy.as_secs_f64() * 1000.0);
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP idv_http_requests_total HTTP requests by method, route pattern and status.\n");
        out.push_str("# TYPE idv_http_requests_total counter\n");
        if let Ok(map) = self.requests.lock() {
            for ((method, route, status), n) in map.iter() {
                let route = route.replace('"', "'");
                let _ = writeln!(
                    out,
                    "idv_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP idv_http_request_duration_ms Request latency in milliseconds.\n");
        out.push_str("# TYPE idv_http_request_duration_ms histogram\n");
        if let Ok(h) = self.latency.lock() {
            h.render(&mut out, "idv_http_request_duration_ms", LATENCY_BUCKETS_MS);
        }
        out.push_str("# HELP idv_writer_batch_commands Commands per group-commit transaction.\n");
        out.push_str("# TYPE idv_writer_batch_commands histogram\n");
        if let Ok(h) = self.batches.lock() {
            h.render(&mut out, "idv_writer_batch_commands", BATCH_BUCKETS);
        }
        out.push_str("# HELP idv_events_appended_total Events appended to the log.\n");
        out.push_str("# TYPE idv_events_appended_total counter\n");
        let _ = writeln!(out, "idv_events_appended_total {}", self.events_appended.load(Ordering::Relaxed));
        out.push_str("# HELP idv_wal_frames Frames in the write-ahead log after the last checkpoint round.\n");
        out.push_str("# TYPE idv_wal_frames gauge\n");
        let _ = writeln!(out, "idv_wal_frames {}", self.wal_frames.load(Ordering::Relaxed));
        out.push_str(
            "# HELP idv_wal_restart_copy_ms The checkpoint copies made between two writer batches so the WAL could restart (the writer waits for at most 100 ms of each).\n",
        );
        out.push_str("# TYPE idv_wal_restart_copy_ms histogram\n");
        if let Ok(h) = self.quiet_copies.lock() {
            h.render(&mut out, "idv_wal_restart_copy_ms", LATENCY_BUCKETS_MS);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_sets_the_wal_gauge_and_a_pause_lands_in_its_bucket() {
        let metrics = Metrics::default();
        metrics.record_checkpoint(1_234, Some(std::time::Duration::from_millis(7)));
        metrics.record_checkpoint(2_048, None);
        let text = metrics.render();
        assert!(text.contains("idv_wal_frames 2048\n"), "{text}");
        assert!(text.contains("idv_wal_restart_copy_ms_bucket{le=\"5\"} 0\n"), "{text}");
        assert!(text.contains("idv_wal_restart_copy_ms_bucket{le=\"10\"} 1\n"), "{text}");
        assert!(text.contains("idv_wal_restart_copy_ms_count 1\n"), "{text}");
    }
}

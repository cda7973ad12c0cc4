//! One webhook delivery attempt over HTTP: POST the signed body, time it, and report status,
//! latency, error and a short response excerpt. Must not sign, build payloads, check the egress
//! policy, retry, sleep between attempts or record anything: the caller does those around it.
//!
//! Redirects are never followed. The egress policy approved the original host (and the addresses
//! it resolved to); following a `Location` would let any receiver bounce idv to a host that was
//! never checked (another tenant's service, a metadata address). A 3xx therefore counts as a failed
//! attempt with its status recorded. Build the client with [`client`], which turns awc's default
//! redirect following (10 hops) off.

use super::signing::WebhookHeaders;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Longest response excerpt kept, in bytes.
pub const EXCERPT_LIMIT: usize = 1024;

/// What one attempt produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The receiver's status code; `None` when no response arrived (connect error, timeout).
    pub status: Option<u16>,
    /// From sending the request to receiving the response head (or to the failure).
    pub latency_ms: u64,
    /// Transport failure or timeout; `None` whenever a response arrived, whatever its status.
    pub error: Option<String>,
    /// Start of the response body, lossy UTF-8, at most [`EXCERPT_LIMIT`] bytes.
    pub response_excerpt: String,
}

impl AttemptResult {
    /// Success is a 2xx response; anything else (3xx included) is a failure to retry.
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// An awc client fit for [`deliver`]: no redirects, no default timeout (each attempt sets one).
pub fn client() -> awc::Client {
    awc::Client::builder().disable_redirects().disable_timeout().finish()
}

/// POSTs `body` with `headers` to `url` and waits at most `timeout` for the response head; the
/// excerpt is then read within what is left of `timeout` (a slow body only shortens the excerpt).
/// The client must not follow redirects (see [`client`]).
pub async fn deliver(
    client: &awc::Client,
    url: &str,
    headers: &WebhookHeaders,
    body: &[u8],
    timeout: Duration,
) -> AttemptResult {
    deliver_to(client, url, None, headers, body, timeout).await
}

/// [`deliver`], connecting to `address` (one of [`super::policy::EgressTarget::addrs`]) instead of
/// resolving the URL's host again; TLS still uses the URL's host name for SNI and certificates.
pub async fn deliver_to(
    client: &awc::Client,
    url: &str,
    address: Option<SocketAddr>,
    headers: &WebhookHeaders,
    body: &[u8],
    timeout: Duration,
) -> AttemptResult {
    let mut request = client.post(url).timeout(timeout);
    if let Some(addr) = address {
        request = request.address(addr);
    }
    for (name, value) in headers.iter() {
        // A bad name or value makes `send_body` fail with an error; it never panics.
        request = request.insert_header((name, value));
    }
    let started = Instant::now();
    let sent = request.send_body(actix_web::web::Bytes::copy_from_slice(body)).await;
    let latency = started.elapsed();
    let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    match sent {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let remaining = timeout.saturating_sub(latency);
            let excerpt = tokio::time::timeout(remaining, read_excerpt(&mut response)).await.unwrap_or_default();
            AttemptResult { status: Some(status), latency_ms, error: None, response_excerpt: excerpt }
        }
        Err(e) => AttemptResult {
            status: None,
            latency_ms,
            error: Some(describe(&e, timeout)),
            response_excerpt: String::new(),
        },
    }
}

async fn read_excerpt<S>(response: &mut S) -> String
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    while buf.len() < EXCERPT_LIMIT {
        match response.next().await {
            Some(Ok(chunk)) => {
                let take = chunk.len().min(EXCERPT_LIMIT - buf.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            Some(Err(_)) | None => break,
        }
    }
    truncate_utf8(&buf, EXCERPT_LIMIT)
}

/// Lossy UTF-8 of at most `limit` bytes of output, cut on a character boundary.
fn truncate_utf8(bytes: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= limit {
        return text.into_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn describe(error: &awc::error::SendRequestError, timeout: Duration) -> String {
    use awc::error::SendRequestError as E;
    match error {
        E::Timeout => format!("timed out after {} s without a response", timeout.as_secs_f32()),
        E::Connect(e) => format!("could not connect: {e}"),
        E::Url(e) => format!("invalid URL: {e}"),
        other => format!("request failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_on_character_boundaries() {
        assert_eq!(truncate_utf8(b"hello", 3), "hel");
        assert_eq!(truncate_utf8("aé".as_bytes(), 2), "a");
        assert_eq!(truncate_utf8(&[0xff, b'a'], 10), "\u{fffd}a");
    }

    #[test]
    fn only_2xx_without_error_succeeds() {
        let r = |status, error: Option<&str>| AttemptResult {
            status,
            latency_ms: 1,
            error: error.map(str::to_string),
            response_excerpt: String::new(),
        };
        assert!(r(Some(200), None).succeeded());
        assert!(r(Some(204), None).succeeded());
        assert!(!r(Some(302), None).succeeded());
        assert!(!r(Some(500), None).succeeded());
        assert!(!r(None, Some("timed out")).succeeded());
    }
}

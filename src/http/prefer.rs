//! The RFC 7240 `Prefer` request header: reading the preferences idv honours (`respond-async` on list
//! uploads, `wait=N` on a session in processing). Owns only the parsing (a preference idv does not know,
//! or a malformed one, is ignored as the RFC says); must not decide what a preference does.

use actix_web::HttpRequest;
use std::time::Duration;

/// Every preference of the request, lowercased token first, with its value when it has one.
fn preferences(req: &HttpRequest) -> impl Iterator<Item = (String, Option<String>)> + '_ {
    req.headers().get_all("prefer").filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).filter_map(|p| {
        let head = p.split(';').next()?.trim();
        let (token, value) = match head.split_once('=') {
            Some((t, v)) => (t.trim(), Some(v.trim().trim_matches('"').to_string())),
            None => (head, None),
        };
        (!token.is_empty()).then(|| (token.to_ascii_lowercase(), value))
    })
}

/// True when the request asks for the asynchronous answer (`Prefer: respond-async`).
pub fn respond_async(req: &HttpRequest) -> bool {
    preferences(req).any(|(token, _)| token == "respond-async")
}

/// How long the request is willing to wait for a change (`Prefer: wait=N`, seconds), capped to `max`;
/// None when it did not ask or asked for zero.
pub fn wait(req: &HttpRequest, max: Duration) -> Option<Duration> {
    let secs: u64 = preferences(req).find(|(token, _)| token == "wait")?.1?.parse().ok()?;
    (secs > 0).then(|| Duration::from_secs(secs).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const MAX: Duration = Duration::from_secs(60);

    #[test]
    fn wait_is_read_among_other_preferences_and_capped() {
        let req = TestRequest::default().insert_header(("Prefer", "return=minimal, wait=10")).to_http_request();
        assert_eq!(wait(&req, MAX), Some(Duration::from_secs(10)));
        assert!(!respond_async(&req));
        let req = TestRequest::default().insert_header(("Prefer", "wait=3600")).to_http_request();
        assert_eq!(wait(&req, MAX), Some(MAX));
    }

    #[test]
    fn a_malformed_or_zero_wait_is_ignored() {
        for header in ["wait=soon", "wait", "wait=0", "wait=-1", "waiting=5"] {
            let req = TestRequest::default().insert_header(("Prefer", header)).to_http_request();
            assert_eq!(wait(&req, MAX), None, "{header}");
        }
    }

    #[test]
    fn respond_async_is_found_with_parameters_and_case() {
        let req = TestRequest::default().insert_header(("Prefer", "Respond-Async; foo=bar")).to_http_request();
        assert!(respond_async(&req));
        assert_eq!(wait(&req, MAX), None);
    }
}

//! Face-match providers. idv has no face model of its own: in the sandbox the score is simulated; in
//! live, an on-prem face service can be plugged in over HTTP (`--face-provider-url`), and with none
//! configured a workflow that needs face match routes the session to review. Must not write to the
//! database; it only reads the two images and returns a score.
//!
//! HTTP contract (documented in the README): `POST <url>` with JSON
//! `{"session_id", "selfie": "<base64>", "document_front": "<base64>"}`; the service answers 200 with
//! `{"score": 0.0..1.0, "liveness_passed": bool|null}`. Any other answer, or none within 30 s, is an
//! error and the session goes to review.

use crate::checks::engine::FaceMatch;
use crate::error::AppResult;
use crate::queries::sessions::document_plain;
use crate::state::AppState;
use base64::Engine;
use serde_json::{json, Value};
use std::time::Duration;

/// The face-match answer for a session about to be processed, or None when it has no selfie.
pub async fn evaluate(state: &AppState, session_id: &str, sandbox: bool) -> AppResult<Option<FaceMatch>> {
    let (keyring, id) = (state.keyring.clone(), session_id.to_string());
    let (selfie, front) = state
        .read(move |c| Ok((document_plain(c, &keyring, &id, "selfie")?, document_plain(c, &keyring, &id, "id_front")?)))
        .await?;
    let (Some(selfie), Some(front)) = (selfie, front) else { return Ok(None) };
    if sandbox {
        return Ok(Some(FaceMatch::Score(0.95)));
    }
    let Some(url) = state.config.face_provider_url.clone() else {
        return Ok(Some(FaceMatch::Unavailable("no face-match provider is configured".into())));
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = json!({ "session_id": session_id, "selfie": b64.encode(selfie), "document_front": b64.encode(front) });
    let client = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
    let answer = async {
        let mut resp =
            client.post(url.as_str()).send_json(&body).await.map_err(|e| format!("provider unreachable: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("provider answered HTTP {}", resp.status().as_u16()));
        }
        let v: Value = resp.json().limit(64 * 1024).await.map_err(|e| format!("provider answer is not JSON: {e}"))?;
        let score = v.get("score").and_then(Value::as_f64).filter(|s| (0.0..=1.0).contains(s));
        let score = score.ok_or_else(|| "provider answer has no score between 0 and 1".to_string())?;
        if v.get("liveness_passed").and_then(Value::as_bool) == Some(false) {
            return Err("the provider's liveness check failed".to_string());
        }
        Ok(score)
    }
    .await;
    Ok(Some(match answer {
        Ok(score) => FaceMatch::Score(score),
        Err(reason) => {
            tracing::warn!(reason = %reason, "face-match provider failed");
            FaceMatch::Unavailable(reason)
        }
    }))
}

//! Face-match providers. idv has no face model of its own: in the sandbox the score is simulated; in
//! live, an on-prem face service can be plugged in over HTTP (`--face-provider-url`), and with none
//! configured a workflow that needs face match routes the session to review. Takes the two images as
//! bytes and returns a score; must not read or write the database.
//!
//! HTTP contract (documented in the README): `POST <url>` with JSON
//! `{"session_id", "selfie": "<base64>", "document_front": "<base64>"}`; the service answers 200 with
//! `{"score": 0.0..1.0, "liveness_passed": bool|null}`. Any other answer, or none within 30 s, is an
//! error and the session goes to review.

use crate::checks::engine::FaceMatch;
use base64::Engine;
use serde_json::{json, Value};
use std::time::Duration;

pub const NO_PROVIDER: &str = "no face-match provider is configured";

/// How faces are matched: the provider's URL (live), if any.
#[derive(Debug, Clone, Default)]
pub struct FaceClient {
    pub provider_url: Option<String>,
}

/// The two images a face match compares.
pub struct FaceImages {
    pub selfie: Vec<u8>,
    pub document_front: Vec<u8>,
}

impl std::fmt::Debug for FaceImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaceImages(..)")
    }
}

impl FaceClient {
    pub fn new(provider_url: Option<String>) -> Self {
        FaceClient { provider_url }
    }

    /// The face-match answer for a session with a selfie: simulated in the sandbox, the provider's score in
    /// live, `Unavailable` (a person must look) without a provider, without both images or on any failure.
    #[tracing::instrument(name = "face_match", skip_all, fields(session_id = %session_id, sandbox))]
    pub async fn evaluate(&self, session_id: &str, sandbox: bool, images: Option<FaceImages>) -> FaceMatch {
        if sandbox {
            return FaceMatch::Score(0.95);
        }
        let Some(url) = self.provider_url.clone() else { return FaceMatch::Unavailable(NO_PROVIDER.into()) };
        let Some(images) = images else {
            return FaceMatch::Unavailable("the selfie or the document front is missing".into());
        };
        let answer = ask(&url, session_id, images).await.and_then(|(score, liveness_passed)| {
            if liveness_passed == Some(false) {
                return Err("the provider's liveness check failed".to_string());
            }
            Ok(score)
        });
        match answer {
            Ok(score) => FaceMatch::Score(score),
            Err(reason) => {
                tracing::warn!(reason = %reason, "face-match provider failed");
                FaceMatch::Unavailable(reason)
            }
        }
    }
}

/// One call to the provider: its score and its liveness verdict (if it gives one), or why it gave neither.
async fn ask(url: &str, session_id: &str, images: FaceImages) -> Result<(f64, Option<bool>), String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = json!({
        "session_id": session_id,
        "selfie": b64.encode(&images.selfie),
        "document_front": b64.encode(&images.document_front),
    });
    drop(images);
    let client = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
    let mut resp = client.post(url).send_json(&body).await.map_err(|e| format!("provider unreachable: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("provider answered HTTP {}", resp.status().as_u16()));
    }
    let v: Value = resp.json().limit(64 * 1024).await.map_err(|e| format!("provider answer is not JSON: {e}"))?;
    let score = v.get("score").and_then(Value::as_f64).filter(|s| (0.0..=1.0).contains(s));
    let score = score.ok_or_else(|| "provider answer has no score between 0 and 1".to_string())?;
    Ok((score, v.get("liveness_passed").and_then(Value::as_bool)))
}

/// A liveness verdict on a set of challenge photos (VerifyHQ's liveness sessions).
#[derive(Debug, Clone, PartialEq)]
pub enum LivenessAnswer {
    /// The provider's (or, in the sandbox, the simulation's) verdict and confidence.
    Decided { alive: bool, confidence: f64 },
    /// No one can say: no provider in live, or it failed. A person must look; never a pass.
    Undetermined(String),
}

/// The score the same face must reach across a liveness session's first and last photos.
pub const LIVENESS_SAME_FACE: f64 = 0.8;

impl FaceClient {
    /// Asks the provider about a liveness session: its first photo as the `selfie`, its last as the image to
    /// compare (`document_front` in the contract): alive when the provider's liveness check passes (or it
    /// gives none) and the face stays the same across the challenges. Simulated in the sandbox.
    pub async fn liveness(&self, session_id: &str, sandbox: bool, first: Vec<u8>, last: Vec<u8>) -> LivenessAnswer {
        if sandbox {
            return LivenessAnswer::Decided { alive: true, confidence: 0.95 };
        }
        let Some(url) = self.provider_url.clone() else { return LivenessAnswer::Undetermined(NO_PROVIDER.into()) };
        match ask(&url, session_id, FaceImages { selfie: first, document_front: last }).await {
            Ok((score, passed)) => LivenessAnswer::Decided {
                alive: passed != Some(false) && score >= LIVENESS_SAME_FACE,
                confidence: score,
            },
            Err(reason) => {
                tracing::warn!(reason = %reason, "face provider failed on a liveness session");
                LivenessAnswer::Undetermined(reason)
            }
        }
    }
}

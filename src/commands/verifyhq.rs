//! VerifyHQ identity verifications (spec A.1) as commands on the one engine: a verification is a session
//! on its tier's workflow. `start` returns the user's active verification or opens a session (creating the
//! tier's workflow on its first use), `review` decides the session's case, `restart` invalidates the
//! current verification and opens the next; `verify_document` stores a document verification's images as
//! Verifa documents of the user's identity and records its assessment; `check_duplicates`,
//! `start_liveness`/`submit_challenge` and `subscribe`/`cancel_subscription` record the other companions
//! (A.3–A.5). Evidence (readings, hashes, screening, the face provider's verdict) is gathered before the
//! write. Must not render responses or hold the dialect's vocabulary (that is `domain::verifyhq`).

use super::sessions::{self, CreateSession};
use super::workflows::{self, CreateWorkflow, Definition};
use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::crypto::Keyring;
use crate::domain::case::CaseDecision;
use crate::domain::ids::WorkflowId;
use crate::domain::values::ExternalRef;
use crate::domain::verifyhq::{
    self as dom, DedupChecked, DedupMatch, DocumentAssessed, DocumentKind, DocumentReading, ReviewDecision, Tier,
    TierLinked, VerificationStatus,
};
use crate::error::{AppError, AppResult};
use crate::store::events::{stream_version, NewEvent};
use crate::store::Exec;
use rusqlite::{params, OptionalExtension};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The verification `start` answers with, and whether it is new.
#[derive(Debug, Clone)]
pub struct Started {
    pub id: String,
    pub created: bool,
}

/// The newest active (PENDING or IN_PROGRESS) verification of `user_id`, if any.
fn active_for_user(w: &WriteCtx<'_>, environment: &str, user_id: &str) -> AppResult<Option<String>> {
    Ok(w.conn
        .prepare_cached(
            "SELECT s.id FROM sessions s JOIN verifyhq_tiers t ON t.environment = s.environment AND t.workflow_id = s.workflow_id
             WHERE s.environment = ?1 AND s.external_ref = ?2
               AND s.status IN ('pending', 'capturing', 'processing', 'awaiting_external', 'sandbox_pending')
             ORDER BY s.created_at DESC, s.id DESC LIMIT 1",
        )?
        .query_row(params![environment, user_id], |r| r.get(0))
        .optional()?)
}

/// The workflow `tier` runs in this environment: the linked one, or a new one linked now.
fn tier_workflow(w: &mut WriteCtx<'_>, meta: &CommandMeta, tier: Tier) -> AppResult<WorkflowId> {
    let linked: Option<String> = w
        .conn
        .row(
            "SELECT workflow_id FROM verifyhq_tiers WHERE environment = ?1 AND tier = ?2",
            params![meta.environment, tier.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = linked {
        return Ok(WorkflowId::from_stored(id));
    }
    let mut requirements = json!({ "first_name": "required", "last_name": "required", "dob": "required" });
    if tier != Tier::Basic {
        requirements["selfie"] = json!("required");
    }
    let input = CreateWorkflow {
        name: tier.workflow_name(),
        description: Some(tier.workflow_description().into()),
        is_default: false,
        definition: Definition::Steps(tier.policies()),
        data_requirements: requirements.as_object().cloned().unwrap_or_default(),
        screening_settings: json!({ "similarity_threshold": 0.6 }).as_object().cloned().unwrap_or_default(),
    };
    let id = workflows::create_in(w, meta, input)?;
    let stream = dom::tiers_stream(&meta.environment);
    let version = stream_version(w.conn, &stream)?;
    let linked = TierLinked { tier: tier.as_str().into(), workflow_id: id.as_str().into() };
    w.emit(&meta.event_meta(), &stream, version, vec![NewEvent::new(dom::TIER_LINKED, serde_json::to_value(linked)?)])?;
    Ok(id)
}

fn open(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    prepared: sessions::PreparedSession,
    user_id: ExternalRef,
    tier: Tier,
) -> AppResult<Started> {
    let workflow_id = tier_workflow(w, meta, tier)?;
    let input =
        CreateSession { external_ref: Some(user_id), workflow_id: Some(workflow_id), ..CreateSession::default() };
    let new = sessions::create_in(w, meta, prepared, input)?;
    Ok(Started { id: new.id, created: true })
}

/// `POST /v1/verifications/identity`: the user's active verification, else a new one of `tier`.
pub async fn start(
    writer: &Writer,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    user_id: ExternalRef,
    tier: Tier,
) -> AppResult<Started> {
    let prepared = sessions::prepare(&keyring, &BTreeMap::new())?;
    writer
        .execute(move |w| {
            if let Some(id) = active_for_user(w, &meta.environment, user_id.as_str())? {
                return Ok(Started { id, created: false });
            }
            open(w, &meta, prepared, user_id, tier)
        })
        .await
}

/// A verification as the commands see it: its session's status and result, its user and tier.
struct Loaded {
    session_status: String,
    status: VerificationStatus,
    user_id: Option<String>,
    tier: Tier,
}

fn load(w: &WriteCtx<'_>, environment: &str, id: &str) -> AppResult<Loaded> {
    let row: Option<(String, Option<String>, Option<String>, String)> = w
        .conn
        .row(
            "SELECT s.status, s.result_status, s.external_ref, t.tier
             FROM sessions s JOIN verifyhq_tiers t ON t.environment = s.environment AND t.workflow_id = s.workflow_id
             WHERE s.id = ?1 AND s.environment = ?2",
            params![id, environment],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (session_status, result, user_id, tier) = row.ok_or_else(|| AppError::not_found("Verification"))?;
    Ok(Loaded {
        status: dom::status_of(&session_status, result.as_deref()),
        session_status,
        user_id,
        tier: Tier::from_stored(&tier)?,
    })
}

/// `POST /v1/verifications/identity/:id/review`: allowed from PENDING or MANUAL_REVIEW; decides the
/// session's case (see `cases::decide_for_client_in`), recording who and why.
pub async fn review(
    writer: &Writer,
    meta: CommandMeta,
    id: String,
    decision: ReviewDecision,
    reviewed_by: String,
    notes: String,
) -> AppResult<String> {
    writer
        .execute(move |w| {
            let v = load(w, &meta.environment, &id)?;
            if !matches!(v.status, VerificationStatus::Pending | VerificationStatus::ManualReview) {
                return Err(AppError::Conflict(format!(
                    "Only a PENDING or MANUAL_REVIEW verification can be reviewed; this one is {}.",
                    v.status.as_str()
                )));
            }
            let decision = match decision {
                ReviewDecision::Verified => CaseDecision::Approved,
                ReviewDecision::Rejected => CaseDecision::Rejected,
            };
            super::cases::decide_for_client_in(w, &meta, &id, decision, &reviewed_by, &notes)?;
            Ok(id)
        })
        .await
}

/// `POST /v1/verifications/identity/:id/restart`: a verification awaiting its person is expired first;
/// a rejected or expired one stays as it is. The user's next verification, of the same tier, is returned
/// (an active one the user already has, else a new one).
pub async fn restart(writer: &Writer, keyring: Arc<Keyring>, meta: CommandMeta, id: String) -> AppResult<Started> {
    let prepared = sessions::prepare(&keyring, &BTreeMap::new())?;
    writer
        .execute(move |w| {
            let v = load(w, &meta.environment, &id)?;
            if dom::restart_plan(&v.session_status, v.status)? {
                sessions::expire_in(w, &meta, &id, "restarted")?;
            }
            let user_id =
                v.user_id.ok_or_else(|| AppError::invalid_state("This verification has no user to restart it for."))?;
            if let Some(active) = active_for_user(w, &meta.environment, &user_id)? {
                return Ok(Started { id: active, created: false });
            }
            let user_id = ExternalRef::from_stored(user_id);
            open(w, &meta, prepared, user_id, v.tier)
        })
        .await
}

/// A document verification to record (A.2): the images, already read (`documents::prepare`).
pub struct DocumentInput {
    pub user_id: ExternalRef,
    pub kind: DocumentKind,
    pub country: crate::domain::values::CountryCode,
    pub front: super::documents::Prepared,
    pub back: Option<super::documents::Prepared>,
}

/// What the readers found on the images, for the assessment: the front's reading first, the back's
/// filling what the front lacks (an ID card's zone is on its back).
fn reading(
    front: &crate::checks::document_facts::Facts,
    back: Option<&crate::checks::document_facts::Facts>,
    today: time::Date,
) -> DocumentReading {
    use crate::checks::document_facts as facts;
    let mut r = DocumentReading::default();
    let mut fields = std::collections::BTreeMap::new();
    for f in std::iter::once(front).chain(back) {
        let x = facts::extract(f, &[], today);
        if let Some(valid) = x.mrz_valid {
            r.zone_valid = Some(r.zone_valid.unwrap_or(true) && valid);
            r.zone_code = r.zone_code.or_else(|| f.mrz.as_deref().and_then(|m| m.trim_start().chars().next()));
        }
        r.confidence = match (r.confidence, x.confidence) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (k, v) in x.fields {
            fields.entry(k).or_insert(v);
        }
    }
    r.fields_read = fields.len();
    r.expiry_date = fields.get("date_of_expiry").cloned();
    r.issuing_country = fields.get("issuing_state").and_then(|s| crate::checks::mrz::alpha2_of(s)).map(str::to_string);
    r
}

/// `POST /v1/verifications/document`: the front (and back) become Verifa documents (`id_front`,
/// `id_back`) of the user's identity when there is one, and the assessment is recorded on the front's
/// stream. Returns the verification's id (the front document's).
pub async fn verify_document(
    writer: &Writer,
    meta: CommandMeta,
    input: DocumentInput,
    today: time::Date,
) -> AppResult<String> {
    let reading = reading(&input.front.facts, input.back.as_ref().map(|b| &b.facts), today);
    let (status, fraud_indicators) = dom::assess(input.kind, input.country.as_str(), &reading, &today.to_string());
    writer
        .execute(move |w| {
            let identity_id = super::identities::load_surviving(w.conn, &meta.environment, input.user_id.as_str())?
                .map(|i| crate::domain::ids::IdentityId::from_stored(i.id));
            let upload = |side: &str, file| super::documents::UploadDocument {
                document_type: crate::domain::document_type::DocumentTypeSlug::from_stored(side.to_string()),
                identity_id: identity_id.clone(),
                session_id: None,
                poa_document_type: None,
                poa_document_date: None,
                metadata: Default::default(),
                file,
            };
            let front = super::documents::upload_in(w, &meta, upload("id_front", input.front))?;
            let back = match input.back {
                Some(b) => Some(super::documents::upload_in(w, &meta, upload("id_back", b))?),
                None => None,
            };
            let assessed = DocumentAssessed {
                user_id: input.user_id.into_string(),
                document_type: input.kind.as_str().into(),
                document_country: input.country.into_string(),
                back_document_id: back.map(|b| b.into_string()),
                status: status.as_str().into(),
                fraud_indicators,
                confidence: reading.confidence.unwrap_or(0.0),
            };
            let version = stream_version(w.conn, front.as_str())?;
            let payload = serde_json::to_value(assessed)?;
            w.emit(&meta.event_meta(), front.as_str(), version, vec![NewEvent::new(dom::DOCUMENT_ASSESSED, payload)])?;
            Ok(front.into_string())
        })
        .await
}

/// A biometric duplicate check to run (A.4): the selfie, already hashed (`imagehash::phash`).
pub struct DedupInput {
    pub user_id: ExternalRef,
    pub selfie: Vec<u8>,
    pub selfie_hash: crate::checks::imagehash::ImageHash64,
    pub threshold: f64,
    pub enroll: bool,
}

/// `POST /v1/biometrics/dedup/check`: compares the selfie's perceptual hash with every other user's
/// selfies (read before the write, on the read pool), then records the check and, when asked, enrolls the
/// selfie (sealed under the check's own key). Returns the check's id.
pub async fn check_duplicates(
    read: &crate::store::ReadPool,
    writer: &Writer,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    input: DedupInput,
) -> AppResult<String> {
    use crate::checks::imagehash::{calibrated_similarity, ImageHash64};
    let (env, user) = (meta.environment.clone(), input.user_id.as_str().to_string());
    let candidates = read.run(move |c| crate::queries::verifyhq::dedup_candidates(c, &env, &user)).await?;
    let scored = candidates
        .into_iter()
        .map(|(matched_user_id, bits, enrolled_at)| DedupMatch {
            matched_user_id,
            similarity: (calibrated_similarity(input.selfie_hash, ImageHash64::from_u64(bits as u64)) * 1000.0).round()
                / 1000.0,
            enrolled_at,
        })
        .collect();
    let matches = dom::dedup_matches(scored, input.threshold);
    // The selfie is sealed here, before the write, under the check's own new key.
    let id = crate::domain::ids::new_id("dedup");
    let enrolled = if input.enroll {
        let (key, wrapped) = keyring.new_data_key(&id);
        let blob_id = crate::domain::ids::new_id(crate::domain::ids::BLOB);
        let sealed = key.seal_image(&id, "selfie", &blob_id, &input.selfie);
        Some((wrapped, blob_id, sealed))
    } else {
        None
    };
    writer
        .execute(move |w| {
            let blob_id = match enrolled {
                Some((wrapped, blob_id, sealed)) => {
                    w.conn.exec(
                        "INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)",
                        params![id, wrapped],
                    )?;
                    w.conn.exec(
                        "INSERT INTO sealed_blobs (blob_id, subject_id, sealed) VALUES (?1, ?2, ?3)",
                        params![blob_id, id, sealed],
                    )?;
                    Some(blob_id)
                }
                None => None,
            };
            let checked = DedupChecked {
                user_id: input.user_id.into_string(),
                threshold: input.threshold,
                selfie_hash: input.selfie_hash.to_hex(),
                enrolled: input.enroll,
                blob_id,
                matches,
            };
            let payload = serde_json::to_value(checked)?;
            w.emit(&meta.event_meta(), &id, 0, vec![NewEvent::new(dom::DEDUP_CHECKED, payload)])?;
            Ok(id)
        })
        .await
}

/// A watchlist subscription to open (A.5): who, as the person's data to screen, and which kinds of list.
pub struct SubscribeInput {
    pub user_id: ExternalRef,
    pub first_name: Option<crate::domain::values::PersonName>,
    pub last_name: crate::domain::values::PersonName,
    pub date_of_birth: Option<crate::domain::values::PartialBirthDate>,
    pub nationality: Option<crate::domain::values::CountryCode>,
    pub lists: Vec<dom::WatchlistKind>,
}

/// `POST /v1/monitoring/watchlist/subscribe`: the user's identity (created, or its name, birth date and
/// nationality updated) is put under continuous monitoring, screened once now against the loaded sanctions
/// lists (its baseline: the hits are the first alerts), and the subscription is recorded. The screening
/// runs before anything is written, and the writes are one command: a refusal or a failure at any step
/// leaves nothing behind. Returns the subscription's id.
pub async fn subscribe(
    writer: &Writer,
    cpu: &crate::blocking::CpuPool,
    keyring: Arc<Keyring>,
    snapshot: Arc<crate::screening_service::snapshot::Snapshot>,
    meta: CommandMeta,
    input: SubscribeInput,
) -> AppResult<String> {
    use super::identities::{self as identity_cmd, CreateIdentity, UpdateIdentity};
    use crate::domain::ids::IdentityRef;
    use crate::domain::values::{PersonalData, PersonalDataPatch};
    let (watched, unavailable) = dom::watchable(&input.lists);
    if watched.is_empty() {
        return Err(AppError::validation(
            "lists",
            "no requested list can be watched: PEP and ADVERSE_MEDIA lists are not available; ask for SANCTIONS",
        ));
    }
    let person = [
        ("first_name", input.first_name.as_ref().map(|v| v.as_str())),
        ("last_name", Some(input.last_name.as_str())),
        ("date_of_birth", input.date_of_birth.as_ref().map(|v| v.as_str())),
        ("nationality", input.nationality.as_ref().map(|v| v.as_str())),
    ];
    let mut pii = PersonalData::default();
    pii.put_all(&person);
    // The patch an existing identity of this user_id gets, checked before anything is done.
    let mut patch = PersonalDataPatch::default();
    for (field, value) in person.iter().filter(|(_, v)| v.is_some()) {
        patch.set(field, *value).map_err(|e| AppError::validation(&e.field, e.message))?;
    }
    // The baseline screening runs first, on the CPU pool: when the pool refuses (503) nothing has been
    // written yet.
    let baseline = match snapshot.is_empty() {
        true => None,
        false => {
            let subject = crate::domain::check::CheckSubject {
                name_first: input.first_name.clone(),
                name_last: Some(input.last_name.clone()),
                birthdate: input
                    .date_of_birth
                    .clone()
                    .map(|d| crate::domain::values::PartialBirthDate::from_stored(d.into_string())),
                country_code: input
                    .nationality
                    .clone()
                    .map(|c| crate::domain::values::SubjectCountry::from_stored(c.into_string())),
                ..Default::default()
            };
            let check = super::checks::CreateCheck {
                check_type: crate::domain::check::CheckType::Sanction,
                external_ref: None,
                identity: Some(IdentityRef::ExternalRef(input.user_id.clone())),
                session_id: None,
                subject,
                threshold: crate::screening::DEFAULT_THRESHOLD,
                tags: Vec::new(),
                monitoring_enabled: false,
            };
            let sandbox = meta.environment == "sandbox";
            Some(super::checks::screen(cpu, snapshot, sandbox, vec![check]).await?)
        }
    };
    let prepared = identity_cmd::prepare_create(
        &keyring,
        &meta.environment,
        CreateIdentity {
            external_ref: input.user_id.clone(),
            upsert: true,
            status: None,
            country: None,
            identity_type_id: None,
            tags: Vec::new(),
            pii,
        },
    )?;
    // One write, in a savepoint of its own: the identity (created, or updated with what was sent), its
    // monitoring, the baseline check and the subscription all commit together or not at all.
    writer
        .execute(move |w| {
            let created = identity_cmd::create_in(w, &meta, prepared)?;
            let identity = input.user_id.as_str();
            if !created.created {
                identity_cmd::update_in(
                    w,
                    &meta,
                    identity,
                    UpdateIdentity { pii: patch, ..UpdateIdentity::default() },
                )?;
            }
            identity_cmd::simple_in(w, &meta, identity, crate::domain::identity::IdentityCommand::ResumeMonitoring)?;
            if let Some(baseline) = baseline {
                super::checks::record_in(w, &meta, baseline, None)?;
            }
            let id = crate::domain::ids::new_id("wl_sub");
            let subscribed = dom::Subscribed {
                user_id: input.user_id.into_string(),
                identity_id: created.id,
                lists: watched,
                unavailable_lists: unavailable,
            };
            let payload = serde_json::to_value(subscribed)?;
            w.emit(&meta.event_meta(), &id, 0, vec![NewEvent::new(dom::SUBSCRIBED, payload)])?;
            Ok(id)
        })
        .await
}

/// `DELETE /v1/monitoring/watchlist/subscribe/:id`: cancels the subscription; the identity's monitoring is
/// paused when no other subscription of it stays active. Cancelling a cancelled one changes nothing.
pub async fn cancel_subscription(writer: &Writer, meta: CommandMeta, id: String) -> AppResult<String> {
    writer
        .execute(move |w| {
            let row: Option<(String, String)> = w
                .conn
                .row(
                    "SELECT identity_id, status FROM verifyhq_subscriptions WHERE id = ?1 AND environment = ?2",
                    params![id, meta.environment],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (identity_id, status) = row.ok_or_else(|| AppError::not_found("Subscription"))?;
            if status == "CANCELLED" {
                return Ok(id);
            }
            let version = stream_version(w.conn, &id)?;
            w.emit(&meta.event_meta(), &id, version, vec![NewEvent::new(dom::SUBSCRIPTION_CANCELLED, json!({}))])?;
            let others: i64 = w.conn.row(
                "SELECT COUNT(*) FROM verifyhq_subscriptions WHERE identity_id = ?1 AND status = 'ACTIVE'",
                [&identity_id],
                |r| r.get(0),
            )?;
            if others == 0 {
                if let Some(state) = super::identities::load_state(w.conn, &meta.environment, &identity_id)? {
                    let command = crate::domain::identity::IdentityCommand::PauseMonitoring;
                    if let Ok(events) = crate::domain::identity::decide(Some(&state), command, &meta.ctx()) {
                        super::identities::emit_identity(w, &meta, &state.id, state.version, events)?;
                    }
                }
            }
            Ok(id)
        })
        .await
}

/// `POST /v1/verifications/liveness/session`: a session of 2 or 3 challenges drawn at random, open for
/// ten minutes, with its own key for the photos. Returns the session token.
pub async fn start_liveness(writer: &Writer, meta: CommandMeta, user_id: ExternalRef) -> AppResult<String> {
    use rand::seq::SliceRandom;
    let mut rng = rand::rngs::OsRng;
    let count = if rand::Rng::gen_bool(&mut rng, 0.5) { 2 } else { 3 };
    let mut kinds: Vec<dom::ChallengeType> = dom::ChallengeType::ALL.to_vec();
    kinds.shuffle(&mut rng);
    let challenges = kinds
        .into_iter()
        .take(count)
        .enumerate()
        .map(|(i, k)| dom::Challenge { id: format!("ch_{:03}", i + 1), kind: k.as_str().into() })
        .collect();
    let expires_at = crate::clock::parse(&meta.now)
        .map(|t| crate::clock::format(t + time::Duration::minutes(dom::LIVENESS_MINUTES)))
        .ok_or_else(|| AppError::Internal("the command's time is not a timestamp".into()))?;
    writer
        .execute(move |w| {
            let id = crate::domain::ids::new_id("lvs");
            let (_, wrapped) = w.keyring.new_data_key(&id);
            w.conn.exec("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)", params![id, wrapped])?;
            let started = dom::LivenessStarted { user_id: user_id.into_string(), challenges, expires_at };
            let payload = serde_json::to_value(started)?;
            w.emit(&meta.event_meta(), &id, 0, vec![NewEvent::new(dom::LIVENESS_STARTED, payload)])?;
            Ok(id)
        })
        .await
}

/// A challenge's photo, already hashed.
pub struct ChallengePhoto {
    pub token: String,
    pub challenge_id: String,
    pub photo: Vec<u8>,
    pub photo_hash: crate::checks::imagehash::ImageHash64,
}

/// `POST /v1/verifications/liveness/challenge`: seals the photo and records the challenge. The last one
/// brings the verdict, reached before the write: one photo re-sent for every challenge is a replay (not
/// alive); otherwise the face provider decides (simulated in the sandbox), and with none in live the
/// verdict stays open (`is_alive` null), never a made-up pass. The last photo and the verdict are one
/// write, so a refusal (503) or a failure leaves the session one photo short, never complete without a
/// verdict; another photo recorded meanwhile is a conflict to send this one again.
pub async fn submit_challenge(
    read: &crate::store::ReadPool,
    writer: &Writer,
    keyring: Arc<Keyring>,
    face: &crate::face::FaceClient,
    meta: CommandMeta,
    input: ChallengePhoto,
) -> AppResult<String> {
    let (env, t) = (meta.environment.clone(), input.token.clone());
    let seen = read.run(move |c| crate::queries::verifyhq::liveness_progress(c, &keyring, &env, &t)).await?;
    let row = &seen.row;
    // Checked here so a photo that cannot be taken goes to no provider; checked again inside the write.
    dom::accept_challenge(&row.challenges, &row.completed, &input.challenge_id, &row.expires_at, &meta.now)?;
    let blob_id = crate::domain::ids::new_id(crate::domain::ids::BLOB);
    let sealed = seen.key.seal_image(&input.token, "liveness", &blob_id, &input.photo);
    let done =
        dom::ChallengeCompleted { challenge_id: input.challenge_id, blob_id, photo_hash: input.photo_hash.to_hex() };
    let decided = if row.one_photo_left() {
        let mut hashes = row.photo_hashes.clone();
        hashes.push(done.photo_hash.clone());
        let first = seen.first_photo.unwrap_or_else(|| input.photo.clone());
        let sandbox = meta.environment == "sandbox";
        Some(liveness_verdict(face, &input.token, sandbox, &hashes, first, input.photo).await)
    } else {
        None
    };
    let (token, seen_completed) = (input.token, seen.row.completed);
    writer
        .execute(move |w| {
            let now = crate::queries::verifyhq::liveness_row(w.conn, &meta.environment, &token)?;
            dom::accept_challenge(&now.challenges, &now.completed, &done.challenge_id, &now.expires_at, &meta.now)?;
            if now.completed != seen_completed {
                return Err(AppError::Conflict(
                    "Another photo of this liveness session was recorded meanwhile; send this one again.".into(),
                ));
            }
            w.conn.exec(
                "INSERT INTO sealed_blobs (blob_id, subject_id, sealed) VALUES (?1, ?2, ?3)",
                params![done.blob_id, token, sealed],
            )?;
            let mut events = vec![NewEvent::new(dom::CHALLENGE_COMPLETED, serde_json::to_value(&done)?)];
            if let Some(decided) = decided {
                events.push(NewEvent::new(dom::LIVENESS_DECIDED, serde_json::to_value(decided)?));
            }
            let version = stream_version(w.conn, &token)?;
            w.emit(&meta.event_meta(), &token, version, events)?;
            Ok(token)
        })
        .await
}

/// A completed liveness session's verdict from its photos' hashes and its first and last photos.
async fn liveness_verdict(
    face: &crate::face::FaceClient,
    token: &str,
    sandbox: bool,
    hashes: &[String],
    first: Vec<u8>,
    last: Vec<u8>,
) -> dom::LivenessDecided {
    use crate::checks::imagehash::ImageHash64;
    let parsed: Vec<ImageHash64> = hashes.iter().filter_map(|h| ImageHash64::from_hex(h).ok()).collect();
    let distances: Vec<u32> =
        parsed.iter().enumerate().flat_map(|(i, a)| parsed[i + 1..].iter().map(move |b| a.distance(*b))).collect();
    if dom::is_replay(&distances, 2) {
        return dom::LivenessDecided {
            is_alive: Some(false),
            confidence: Some(0.99),
            anti_spoof_score: Some(0.0),
            reason: Some("the same photo was sent for every challenge".into()),
        };
    }
    match face.liveness(token, sandbox, first, last).await {
        crate::face::LivenessAnswer::Decided { alive, confidence } => dom::LivenessDecided {
            is_alive: Some(alive),
            confidence: Some(confidence),
            anti_spoof_score: Some(if alive { confidence } else { 0.0 }),
            reason: None,
        },
        crate::face::LivenessAnswer::Undetermined(reason) => {
            dom::LivenessDecided { is_alive: None, confidence: None, anti_spoof_score: None, reason: Some(reason) }
        }
    }
}

//! Org users (reviewer accounts, `orguser_*`): roles, status, the login-session lifecycle and the lockout
//! rule, as commands, events and a pure `decide`. Email, display name and the TOTP secret arrive sealed and
//! the password arrives as an argon2id hash (the command layer seals, hashes and verifies); this module
//! never sees a plaintext credential. Must not seal, hash, read the database or the clock.

use super::vocabulary::vocabulary;
use super::Ctx;
use crate::error::AppError;
use serde::{Deserialize, Serialize};

vocabulary!(
    /// What an org user may do on the dashboard: reviewer < senior_reviewer < admin.
    Role { Reviewer = "reviewer", SeniorReviewer = "senior_reviewer", Admin = "admin" }
);
vocabulary!(
    /// A disabled user cannot log in and its sessions stop working.
    UserStatus { Active = "active", Disabled = "disabled" }
);

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::Reviewer => 0,
            Role::SeniorReviewer => 1,
            Role::Admin => 2,
        }
    }

    /// True when this role is `needed` or above it.
    pub fn at_least(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }
}

/// Failed logins in a row before the account locks.
pub const LOCK_AFTER_FAILURES: i64 = 5;
/// The first lock; each further lock doubles it, up to `MAX_LOCK_SECS`.
pub const FIRST_LOCK_SECS: i64 = 60;
pub const MAX_LOCK_SECS: i64 = 3600;
/// A login session lasts this long from login or from its last refresh (spec §1.17: 8 h).
pub const SESSION_SECS: i64 = 8 * 3600;

/// How long the account locks after `failures` failed logins in a row (None: not a locking count).
pub fn lock_secs(failures: i64) -> Option<i64> {
    if failures <= 0 || failures % LOCK_AFTER_FAILURES != 0 {
        return None;
    }
    let doublings = (failures / LOCK_AFTER_FAILURES - 1).min(12) as u32;
    Some((FIRST_LOCK_SECS << doublings).min(MAX_LOCK_SECS))
}

fn plus_secs(now: &str, secs: i64) -> Result<String, AppError> {
    let t = crate::clock::parse(now).ok_or_else(|| AppError::Internal(format!("bad command time {now}")))?;
    Ok(crate::clock::format(t + time::Duration::seconds(secs)))
}

/// RFC 3339 UTC times in the one stored format compare as text; parsing keeps this exact whatever the format.
fn before(a: &str, b: &str) -> bool {
    match (crate::clock::parse(a), crate::clock::parse(b)) {
        (Some(a), Some(b)) => a < b,
        _ => a < b,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Created {
    pub role: String,
    /// Sealed (base64) under the user's data key, field `email`.
    pub email: String,
    /// Sealed (base64) under the user's data key, field `name`.
    pub name: String,
    /// The keyed blind digest of the normalised email (hex), sealed under the user's key, field
    /// `email_index`: the projection opens it into the login lookup column.
    pub email_index: String,
    /// argon2id PHC string. Not PII, never logged or served.
    pub password_hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Updated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Sealed (base64) under the user's data key, field `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TotpEnrolled {
    /// Sealed (base64) under the user's data key, field `totp_secret`.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoginFailed {
    /// Failed logins in a row, this one included.
    pub failures: i64,
    pub locked_until: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoggedIn {
    /// The login session (`lgs_...`): its id names it in the log; the token itself is never stored.
    pub session_id: String,
    /// Keyed hash (hex) of the session token sent as the `vk_org_token` cookie.
    pub token_hash: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRefreshed {
    pub session_id: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoggedOut {
    pub session_id: String,
}

/// Org user events: on the user's own stream, logins and logouts included (they are audited).
#[derive(Debug, Clone, PartialEq)]
pub enum UserEvent {
    Created(Box<Created>),
    Updated(Updated),
    Disabled,
    TotpEnrolled(TotpEnrolled),
    LoginFailed(LoginFailed),
    LoggedIn(LoggedIn),
    SessionRefreshed(SessionRefreshed),
    LoggedOut(LoggedOut),
}

pub const USER_EVENT_VERSION: i64 = 1;

impl UserEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            UserEvent::Created(_) => "OrgUserCreated",
            UserEvent::Updated(_) => "OrgUserUpdated",
            UserEvent::Disabled => "OrgUserDisabled",
            UserEvent::TotpEnrolled(_) => "OrgUserTotpEnrolled",
            UserEvent::LoginFailed(_) => "OrgUserLoginFailed",
            UserEvent::LoggedIn(_) => "OrgUserLoggedIn",
            UserEvent::SessionRefreshed(_) => "OrgUserSessionRefreshed",
            UserEvent::LoggedOut(_) => "OrgUserLoggedOut",
        }
    }

    pub fn version(&self) -> i64 {
        USER_EVENT_VERSION
    }

    pub fn payload(&self) -> serde_json::Value {
        let value = match self {
            UserEvent::Created(e) => serde_json::to_value(e),
            UserEvent::Updated(e) => serde_json::to_value(e),
            UserEvent::Disabled => Ok(serde_json::json!({})),
            UserEvent::TotpEnrolled(e) => serde_json::to_value(e),
            UserEvent::LoginFailed(e) => serde_json::to_value(e),
            UserEvent::LoggedIn(e) => serde_json::to_value(e),
            UserEvent::SessionRefreshed(e) => serde_json::to_value(e),
            UserEvent::LoggedOut(e) => serde_json::to_value(e),
        };
        value.unwrap_or(serde_json::Value::Null)
    }

    /// Decodes a stored event. Unknown types give `None`; an unknown version or a payload that does not
    /// fit is an error naming the event.
    pub fn decode(
        event_type: &str,
        version: i64,
        payload: &serde_json::Value,
    ) -> Result<Option<Self>, serde_json::Error> {
        use super::codec;
        if !event_type.starts_with("OrgUser") {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, USER_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "OrgUserCreated" => UserEvent::Created(Box::new(codec::payload(event_type, p)?)),
            "OrgUserUpdated" => UserEvent::Updated(codec::payload(event_type, p)?),
            "OrgUserDisabled" => UserEvent::Disabled,
            "OrgUserTotpEnrolled" => UserEvent::TotpEnrolled(codec::payload(event_type, p)?),
            "OrgUserLoginFailed" => UserEvent::LoginFailed(codec::payload(event_type, p)?),
            "OrgUserLoggedIn" => UserEvent::LoggedIn(codec::payload(event_type, p)?),
            "OrgUserSessionRefreshed" => UserEvent::SessionRefreshed(codec::payload(event_type, p)?),
            "OrgUserLoggedOut" => UserEvent::LoggedOut(codec::payload(event_type, p)?),
            _ => return Ok(None),
        }))
    }
}

/// What deciding about an existing user needs (from its view row).
#[derive(Debug, Clone, PartialEq)]
pub struct UserState {
    pub id: String,
    pub role: Role,
    pub status: UserStatus,
    pub failed_logins: i64,
    pub locked_until: Option<String>,
    pub totp_enrolled: bool,
}

/// One login session of the user, as logout and refresh need it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginSessionState {
    pub session_id: String,
    pub expires_at: String,
    pub ended: bool,
}

/// What the command layer found when it checked the presented credentials (off the writer thread).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CredentialCheck {
    pub password_ok: bool,
    /// None when no code was given.
    pub totp_ok: Option<bool>,
}

pub enum UserCommand {
    Create(Box<Created>),
    Update(Updated),
    Disable,
    EnrolTotp(TotpEnrolled),
    /// A login attempt: a new session (id and token hash chosen by the command layer) when it succeeds.
    Login {
        check: CredentialCheck,
        session_id: String,
        token_hash: String,
    },
    Refresh(LoginSessionState),
    Logout(LoginSessionState),
}

/// Why a login was refused. The caller answers every one of them with the same generic error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    BadCredentials,
    Locked,
    Disabled,
    /// The password was right but the account needs a TOTP code and none (or a wrong one) came.
    TotpRequired,
}

/// The outcome of a login decision: the events to append (a failure is recorded too) and the refusal, if
/// any. Refusals are not errors: the failure events must commit.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginDecision {
    pub events: Vec<UserEvent>,
    pub refused: Option<LoginRefusal>,
}

pub fn decide_login(
    state: &UserState,
    check: CredentialCheck,
    session_id: String,
    token_hash: String,
    ctx: &Ctx,
) -> Result<LoginDecision, AppError> {
    if state.status == UserStatus::Disabled {
        return Ok(LoginDecision { events: Vec::new(), refused: Some(LoginRefusal::Disabled) });
    }
    if let Some(until) = &state.locked_until {
        if before(&ctx.now, until) {
            // Attempts while locked are refused without counting: the backoff is not extended by guessing.
            return Ok(LoginDecision { events: Vec::new(), refused: Some(LoginRefusal::Locked) });
        }
    }
    let totp_passes = !state.totp_enrolled || check.totp_ok == Some(true);
    if check.password_ok && totp_passes {
        let expires_at = plus_secs(&ctx.now, SESSION_SECS)?;
        return Ok(LoginDecision {
            events: vec![UserEvent::LoggedIn(LoggedIn { session_id, token_hash, expires_at })],
            refused: None,
        });
    }
    let failures = state.failed_logins + 1;
    let locked_until = lock_secs(failures).map(|s| plus_secs(&ctx.now, s)).transpose()?;
    let refused = if check.password_ok { LoginRefusal::TotpRequired } else { LoginRefusal::BadCredentials };
    Ok(LoginDecision {
        events: vec![UserEvent::LoginFailed(LoginFailed { failures, locked_until })],
        refused: Some(refused),
    })
}

fn check_role(role: &str) -> Result<(), AppError> {
    Role::parse_field("role", role).map(|_| ())
}

fn live_session(s: &LoginSessionState, ctx: &Ctx) -> Result<(), AppError> {
    if s.ended || !before(&ctx.now, &s.expires_at) {
        return Err(AppError::Unauthorized("The dashboard session has ended; log in again.".into()));
    }
    Ok(())
}

pub fn decide(state: Option<&UserState>, command: UserCommand, ctx: &Ctx) -> Result<Vec<UserEvent>, AppError> {
    use UserCommand as C;
    let Some(state) = state else {
        return match command {
            C::Create(created) => {
                check_role(&created.role)?;
                Ok(vec![UserEvent::Created(created)])
            }
            _ => Err(AppError::not_found("User")),
        };
    };
    match command {
        C::Create(_) => Err(AppError::Conflict("A user with this id already exists.".into())),
        C::Update(update) => {
            if state.status == UserStatus::Disabled {
                return Err(AppError::Conflict("This user is disabled and can no longer be changed.".into()));
            }
            if let Some(role) = &update.role {
                check_role(role)?;
            }
            if update.role.is_none() && update.name.is_none() {
                return Ok(Vec::new());
            }
            Ok(vec![UserEvent::Updated(update)])
        }
        C::Disable => match state.status {
            UserStatus::Disabled => Ok(Vec::new()),
            UserStatus::Active => Ok(vec![UserEvent::Disabled]),
        },
        C::EnrolTotp(enrolled) => {
            if state.status == UserStatus::Disabled {
                return Err(AppError::Conflict("This user is disabled.".into()));
            }
            if state.totp_enrolled {
                return Err(AppError::Conflict("This user already has TOTP enrolled.".into()));
            }
            Ok(vec![UserEvent::TotpEnrolled(enrolled)])
        }
        C::Login { check, session_id, token_hash } => {
            let decision = decide_login(state, check, session_id, token_hash, ctx)?;
            match decision.refused {
                None => Ok(decision.events),
                Some(_) => Err(AppError::Unauthorized("Invalid credentials.".into())),
            }
        }
        C::Refresh(session) => {
            if state.status == UserStatus::Disabled {
                return Err(AppError::Unauthorized("This user is disabled.".into()));
            }
            live_session(&session, ctx)?;
            let expires_at = plus_secs(&ctx.now, SESSION_SECS)?;
            Ok(vec![UserEvent::SessionRefreshed(SessionRefreshed { session_id: session.session_id, expires_at })])
        }
        C::Logout(session) => {
            if session.ended {
                return Ok(Vec::new());
            }
            Ok(vec![UserEvent::LoggedOut(LoggedOut { session_id: session.session_id })])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(now: &str) -> Ctx {
        Ctx { now: now.into(), environment: "sandbox".into() }
    }

    fn state() -> UserState {
        UserState {
            id: "orguser_a".into(),
            role: Role::Reviewer,
            status: UserStatus::Active,
            failed_logins: 0,
            locked_until: None,
            totp_enrolled: false,
        }
    }

    fn login(state: &UserState, password_ok: bool, totp_ok: Option<bool>, now: &str) -> LoginDecision {
        decide_login(state, CredentialCheck { password_ok, totp_ok }, "lgs_1".into(), "00".into(), &ctx(now)).unwrap()
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.at_least(Role::SeniorReviewer));
        assert!(Role::SeniorReviewer.at_least(Role::Reviewer));
        assert!(!Role::Reviewer.at_least(Role::SeniorReviewer));
        assert!(Role::Reviewer.at_least(Role::Reviewer));
    }

    #[test]
    fn locks_double_from_a_minute_up_to_an_hour() {
        assert_eq!(lock_secs(4), None);
        assert_eq!(lock_secs(5), Some(60));
        assert_eq!(lock_secs(6), None);
        assert_eq!(lock_secs(10), Some(120));
        assert_eq!(lock_secs(15), Some(240));
        assert_eq!(lock_secs(40), Some(3600));
        assert_eq!(lock_secs(5000), Some(3600));
    }

    #[test]
    fn the_fifth_failure_locks_and_a_success_after_the_lock_opens_a_session() {
        let mut s = state();
        s.failed_logins = 4;
        let d = login(&s, false, None, "2026-01-01T00:00:00.000Z");
        assert_eq!(d.refused, Some(LoginRefusal::BadCredentials));
        assert_eq!(
            d.events,
            vec![UserEvent::LoginFailed(LoginFailed {
                failures: 5,
                locked_until: Some("2026-01-01T00:01:00.000Z".into())
            })]
        );
        s.failed_logins = 5;
        s.locked_until = Some("2026-01-01T00:01:00.000Z".into());
        let locked = login(&s, true, None, "2026-01-01T00:00:30.000Z");
        assert_eq!(locked, LoginDecision { events: Vec::new(), refused: Some(LoginRefusal::Locked) });
        let open = login(&s, true, None, "2026-01-01T00:01:00.000Z");
        assert_eq!(open.refused, None);
        assert!(matches!(&open.events[0], UserEvent::LoggedIn(l) if l.expires_at == "2026-01-01T08:01:00.000Z"));
    }

    #[test]
    fn disabled_users_and_missing_codes_are_refused() {
        let mut s = state();
        s.status = UserStatus::Disabled;
        assert_eq!(login(&s, true, None, "2026-01-01T00:00:00.000Z").refused, Some(LoginRefusal::Disabled));
        let mut s = state();
        s.totp_enrolled = true;
        assert_eq!(login(&s, true, None, "2026-01-01T00:00:00.000Z").refused, Some(LoginRefusal::TotpRequired));
        assert_eq!(login(&s, true, Some(false), "2026-01-01T00:00:00.000Z").refused, Some(LoginRefusal::TotpRequired));
        assert_eq!(login(&s, true, Some(true), "2026-01-01T00:00:00.000Z").refused, None);
    }

    #[test]
    fn refresh_needs_a_live_session_and_logout_is_idempotent() {
        let s = state();
        let live = LoginSessionState {
            session_id: "lgs_1".into(),
            expires_at: "2026-01-01T08:00:00.000Z".into(),
            ended: false,
        };
        let refreshed = decide(Some(&s), UserCommand::Refresh(live.clone()), &ctx("2026-01-01T07:00:00.000Z")).unwrap();
        assert!(matches!(&refreshed[0], UserEvent::SessionRefreshed(r) if r.expires_at == "2026-01-01T15:00:00.000Z"));
        let late = decide(Some(&s), UserCommand::Refresh(live.clone()), &ctx("2026-01-01T08:00:00.000Z"));
        assert!(matches!(late, Err(AppError::Unauthorized(_))));
        let out = decide(Some(&s), UserCommand::Logout(live.clone()), &ctx("2026-01-01T07:00:00.000Z")).unwrap();
        assert_eq!(out, vec![UserEvent::LoggedOut(LoggedOut { session_id: "lgs_1".into() })]);
        let ended = LoginSessionState { ended: true, ..live };
        assert!(decide(Some(&s), UserCommand::Logout(ended), &ctx("2026-01-01T07:00:00.000Z")).unwrap().is_empty());
    }

    #[test]
    fn creation_checks_the_role_and_events_decode_back() {
        let created = Created {
            role: "auditor".into(),
            email: "e".into(),
            name: "n".into(),
            email_index: "i".into(),
            password_hash: "h".into(),
        };
        assert!(decide(None, UserCommand::Create(Box::new(created.clone())), &ctx("2026-01-01T00:00:00Z")).is_err());
        let ok = Created { role: "admin".into(), ..created };
        let events = decide(None, UserCommand::Create(Box::new(ok)), &ctx("2026-01-01T00:00:00Z")).unwrap();
        for e in events
            .into_iter()
            .chain([UserEvent::Disabled, UserEvent::Updated(Updated { role: Some("admin".into()), name: None })])
        {
            assert_eq!(UserEvent::decode(e.event_type(), 1, &e.payload()).unwrap(), Some(e));
        }
        assert!(UserEvent::decode("OrgUserDisabled", 9, &serde_json::json!({})).is_err());
        assert_eq!(UserEvent::decode("SessionCreated", 1, &serde_json::json!({})).unwrap(), None);
    }
}

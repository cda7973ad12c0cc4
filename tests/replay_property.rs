//! Property: for random sequences of identity commands, the views rebuilt from the log equal the
//! views the writer projected incrementally.

use idv::commands::identities::{self as cmd, CreateIdentity, MergeOptions, UpdateIdentity};
use idv::commands::relationships::{self as rel, CreateLink};
use idv::commands::CommandMeta;
use idv::config::Config;
use idv::domain::identity::IdentityCommand;
use idv::domain::ids::IdentityRef;
use idv::domain::values::{ExternalRef, PersonalData, PersonalDataPatch, StatusName, Tag};
use idv::startup::open_core;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create(u8),
    UpdateEmail(u8, u8),
    ClearCity(u8),
    Status(u8, u8),
    Tag(u8, u8),
    Untag(u8, u8),
    Archive(u8),
    Restore(u8),
    Pause(u8),
    Resume(u8),
    Redact(u8),
    Merge(u8, u8),
    Link(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0u8..6;
    prop_oneof![
        3 => i.clone().prop_map(Op::Create),
        2 => (i.clone(), 0u8..4).prop_map(|(a, b)| Op::UpdateEmail(a, b)),
        1 => i.clone().prop_map(Op::ClearCity),
        1 => (i.clone(), 0u8..4).prop_map(|(a, b)| Op::Status(a, b)),
        1 => (i.clone(), 0u8..3).prop_map(|(a, b)| Op::Tag(a, b)),
        1 => (i.clone(), 0u8..3).prop_map(|(a, b)| Op::Untag(a, b)),
        1 => i.clone().prop_map(Op::Archive),
        1 => i.clone().prop_map(Op::Restore),
        1 => i.clone().prop_map(Op::Pause),
        1 => i.clone().prop_map(Op::Resume),
        1 => i.clone().prop_map(Op::Redact),
        1 => (i.clone(), i.clone()).prop_map(|(a, b)| Op::Merge(a, b)),
        1 => (i.clone(), i).prop_map(|(a, b)| Op::Link(a, b)),
    ]
}

fn meta() -> CommandMeta {
    CommandMeta {
        actor: "test".into(),
        environment: "sandbox".into(),
        request_id: None,
        now: "2026-01-01T00:00:00.000Z".into(),
        // Replay must carry the request behind each event into the rebuilt audit log.
        origin: Some(idv::store::events::RequestOrigin {
            method: "POST".into(),
            path: "/api/v1/identities".into(),
            ip: Some("198.51.100.4".into()),
        }),
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path().to_path_buf());
    actix_web::rt::System::new().block_on(async {
        let core = open_core(&config).unwrap();
        let w = &core.writer;
        let r = |i: u8| format!("ref{i}");
        let ident = |i: u8| IdentityRef::parse("identity", &r(i)).unwrap();
        for op in ops {
            // Refusals (redacted, merged, missing) are part of the property: they must append nothing.
            let _ = match op {
                Op::Create(i) => {
                    let mut pii = PersonalData::default();
                    pii.insert_parsed("first_name", &format!("Name{i}")).unwrap();
                    pii.insert_parsed("last_name", "Same").unwrap();
                    pii.insert_parsed("date_of_birth", "1990-01-01").unwrap();
                    pii.insert_parsed("city", "Lyon").unwrap();
                    let input = CreateIdentity {
                        external_ref: ExternalRef::parse("external_ref", &r(i)).unwrap(),
                        upsert: true,
                        status: None,
                        country: None,
                        identity_type_id: None,
                        tags: Vec::new(),
                        pii,
                    };
                    cmd::create(w, core.keyring.clone(), meta(), input).await.map(|_| ())
                }
                Op::UpdateEmail(i, e) => {
                    let mut pii = PersonalDataPatch::default();
                    pii.set("email", Some(&format!("p{e}@example.com"))).unwrap();
                    cmd::update(w, meta(), ident(i), UpdateIdentity { pii, ..Default::default() }).await.map(|_| ())
                }
                Op::ClearCity(i) => {
                    let mut pii = PersonalDataPatch::default();
                    pii.set("city", None).unwrap();
                    cmd::update(w, meta(), ident(i), UpdateIdentity { pii, ..Default::default() }).await.map(|_| ())
                }
                Op::Status(i, s) => {
                    let status =
                        StatusName::parse("status", ["approved", "rejected", "failed", "pending"][s as usize]).unwrap();
                    cmd::update(w, meta(), ident(i), UpdateIdentity { status: Some(status), ..Default::default() })
                        .await
                        .map(|_| ())
                }
                Op::Tag(i, t) => cmd::simple(
                    w,
                    meta(),
                    ident(i),
                    IdentityCommand::AddTag(Tag::parse("tag", &format!("t{t}")).unwrap()),
                )
                .await
                .map(|_| ()),
                Op::Untag(i, t) => cmd::simple(
                    w,
                    meta(),
                    ident(i),
                    IdentityCommand::RemoveTag(Tag::parse("tag", &format!("t{t}")).unwrap()),
                )
                .await
                .map(|_| ()),
                Op::Archive(i) => cmd::simple(w, meta(), ident(i), IdentityCommand::Archive).await.map(|_| ()),
                Op::Restore(i) => cmd::simple(w, meta(), ident(i), IdentityCommand::Restore).await.map(|_| ()),
                Op::Pause(i) => cmd::simple(w, meta(), ident(i), IdentityCommand::PauseMonitoring).await.map(|_| ()),
                Op::Resume(i) => cmd::simple(w, meta(), ident(i), IdentityCommand::ResumeMonitoring).await.map(|_| ()),
                Op::Redact(i) => cmd::redact(w, meta(), ident(i)).await.map(|_| ()),
                Op::Merge(a, b) => {
                    cmd::merge(w, meta(), ident(a), vec![ident(b)], MergeOptions::default()).await.map(|_| ())
                }
                Op::Link(a, b) => {
                    let link = CreateLink {
                        related_identity_id: idv::domain::ids::IdentityRef::parse("related", &r(b)).unwrap(),
                        relationship_type: idv::domain::values::RelationshipTypeName::parse("type", "family_member")
                            .unwrap(),
                        note: None,
                        metadata: Default::default(),
                    };
                    let source = idv::domain::ids::IdentityRef::parse("source", &r(a)).unwrap();
                    rel::create(w, meta(), source, link).await.map(|_| ())
                }
            };
        }
        let scratch = dir.path().join("scratch.db");
        let (master, _) = idv::crypto::MasterKey::load_or_create(&config.key_path()).unwrap();
        let ring = idv::crypto::Keyring::new(&master);
        let result = idv::store::replay::check(&config.database_path(), &scratch, &ring);
        prop_assert!(result.is_ok(), "replay differs: {:?}", result.err());
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn replayed_views_equal_live_views(ops in proptest::collection::vec(op(), 1..30)) {
        run(ops)?;
    }
}

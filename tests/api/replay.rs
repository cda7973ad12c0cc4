//! The log is the truth: after a mixed workload through the API, a rebuild of every view from the
//! events equals the live views, the hash chain verifies, and tampering is detected.

use crate::helpers::*;
use idv::crypto::{Keyring, MasterKey};
use serde_json::json;

fn keyring(app: &TestApp) -> Keyring {
    let (master, created) = MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    assert!(!created);
    Keyring::new(&master)
}

async fn workload(app: &TestApp) {
    let a = app.create_identity(json!({"external_ref": "a", "first_name": "Ann", "last_name": "Lee", "date_of_birth": "1980-01-01", "tags": ["x"]})).await;
    let b = app.create_identity(json!({"external_ref": "b", "email": "b@example.com"})).await;
    let c = app.create_identity(json!({"external_ref": "c", "ssn": "123-45-6789"})).await;
    assert_eq!(
        app.patch(&format!("/identities/{a}"), json!({"email": "ann@example.com", "status": "approved"})).await.status,
        200
    );
    assert_eq!(app.post(&format!("/identities/{a}/tags/add"), json!({"tag": "vip"})).await.status, 200);
    assert_eq!(app.post(&format!("/identities/{b}/archive"), json!({})).await.status, 200);
    assert_eq!(app.post(&format!("/identities/{b}/restore"), json!({})).await.status, 200);
    assert_eq!(
        app.post(
            &format!("/identities/{a}/relationships"),
            json!({"related_identity_id": c, "relationship_type": "family_member"})
        )
        .await
        .status,
        201
    );
    let t = app.post("/relationship-types", json!({"name": "guarantor", "label": "Guarantor"})).await;
    assert_eq!(t.status, 201);
    assert_eq!(
        app.post("/identities/merge", json!({"primary_identity_id": a, "secondary_identity_id": b})).await.status,
        200
    );
    assert_eq!(app.delete(&format!("/identities/{c}/data")).await.status, 200);
}

#[actix_web::test]
async fn replayed_views_equal_the_live_views_and_the_chain_verifies() {
    let app = spawn_app().await;
    workload(&app).await;
    let ring = keyring(&app);
    let scratch = app.data_dir.path().join("scratch.db");
    let replayed = idv::store::replay::check(&app.db_path(), &scratch, &ring).expect("replay check passes");
    assert!(replayed > 10);
    let conn =
        rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    assert_eq!(idv::store::events::verify_chain(&conn, &ring).expect("chain verifies"), replayed);
}

#[actix_web::test]
async fn the_log_refuses_updates_and_a_tampered_row_is_named() {
    let app = spawn_app().await;
    workload(&app).await;
    let ring = keyring(&app);
    let copy = app.data_dir.path().join("copy.db");
    {
        let src = rusqlite::Connection::open(app.db_path()).unwrap();
        let err = src.execute("UPDATE events SET actor = 'mallory' WHERE seq = 3", []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(src.execute("DELETE FROM events WHERE seq = 3", []).is_err());
        src.execute("VACUUM INTO ?1", [copy.display().to_string()]).unwrap();
    }
    let tampered = rusqlite::Connection::open(&copy).unwrap();
    tampered
        .execute_batch("DROP TRIGGER events_no_update; UPDATE events SET actor = 'mallory' WHERE seq = 3;")
        .unwrap();
    let err = idv::store::events::verify_chain(&tampered, &ring).unwrap_err();
    assert!(err.contains("seq 3"), "{err}");
}

#[actix_web::test]
async fn a_database_from_a_newer_idv_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idv.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = idv::store::open_writer(&path, idv::store::Durability::Full).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[actix_web::test]
async fn a_view_changed_outside_the_log_is_named_by_the_replay_check() {
    let app = spawn_app().await;
    workload(&app).await;
    let ring = keyring(&app);
    {
        let conn = rusqlite::Connection::open(app.db_path()).unwrap();
        conn.execute("UPDATE identities SET status = 'approved' WHERE external_ref = 'c'", []).unwrap();
    }
    let scratch = app.data_dir.path().join("scratch.db");
    let err = idv::store::replay::check(&app.db_path(), &scratch, &ring).unwrap_err();
    assert!(err.to_string().contains("table identities"), "{err}");
}

//! An identity's date of birth at the precision it is known (`YYYY`, `YYYY-MM`): accepted on create and
//! update, shown back as given, refused when it is no date, and used by identity screening (monitoring) at
//! that precision: the year of a listed person's full birth date agrees, another year counts against.

use crate::helpers::*;
use crate::list_imports::{ftm, upload, LISTED, LISTED_ID};
use serde_json::{json, Value};

async fn person(app: &TestApp, external_ref: &str, dob: &str) -> String {
    app.create_identity(json!({"external_ref": external_ref, "first_name": LISTED.0, "last_name": LISTED.1,
        "date_of_birth": dob}))
        .await
}

/// The identity's monitoring hit on the listed person (None when it has none).
async fn hit(app: &TestApp, id: &str) -> Option<Value> {
    let checks = app.get(&format!("/identities/{id}/checks")).await;
    assert_eq!(checks.status, 200, "{}", checks.body);
    checks.body["data"][0]["hits"].as_array().and_then(|h| h.iter().find(|h| h["entry_id"] == LISTED_ID)).cloned()
}

#[actix_web::test]
async fn an_identity_born_in_a_year_is_screened_at_that_precision() {
    let app = spawn_app().await;
    let year = person(&app, "dob-year", "1965").await;
    let month = person(&app, "dob-month", "1965-03").await;
    let full = person(&app, "dob-full", "1965-03-02").await;
    let other = person(&app, "dob-other", "1971").await;
    let shown = app.get(&format!("/identities/{year}")).await;
    assert_eq!(shown.body["extracted_data"]["date_of_birth"], "1965", "shown at its precision: {}", shown.body);

    // The list (its entry born 1965-03-02) arrives: monitoring screens every identity against it.
    let imported = upload(&app, ftm(300, |_, l| l), false).await;
    assert_eq!(imported.status, 201, "{}", imported.body);

    let score = |h: &Option<Value>| h.as_ref().and_then(|h| h["score"].as_f64()).unwrap_or(0.0);
    let (by_year, by_month, by_full) = (hit(&app, &year).await, hit(&app, &month).await, hit(&app, &full).await);
    for (what, h) in [("1965", &by_year), ("1965-03", &by_month), ("1965-03-02", &by_full)] {
        let h = h.as_ref().unwrap_or_else(|| panic!("{what}: no hit"));
        assert_eq!(h["features"]["date_of_birth"], 1.0, "{what} agrees with 1965-03-02: {h}");
        assert!(h["explanation"].as_str().unwrap_or_default().contains("date of birth"), "{h}");
    }
    assert_eq!(score(&by_year), score(&by_full), "a year that agrees counts as agreement");
    let by_other = hit(&app, &other).await;
    assert!(
        score(&by_other) < score(&by_year),
        "another year lowers the score: {} vs {}: {by_other:?}",
        score(&by_other),
        score(&by_year)
    );
    let status = app.get(&format!("/identities/{year}")).await;
    assert_eq!(status.body["screening_status"], "hit", "{}", status.body);
}

#[actix_web::test]
async fn a_partial_date_of_birth_is_kept_on_update_and_what_is_no_date_is_refused() {
    let app = spawn_app().await;
    let id = person(&app, "dob-upd", "1965-03-02").await;
    let patched = app.patch(&format!("/identities/{id}"), json!({"date_of_birth": "1965-03"})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let shown = app.get(&format!("/identities/{id}")).await;
    assert_eq!(shown.body["extracted_data"]["date_of_birth"], "1965-03", "{}", shown.body);

    for bad in ["1965-13", "garbage", "65", "1899", "2999", "1965-3", "1965-02-30"] {
        let created = app
            .post(
                "/identities",
                json!({"external_ref": "dob-bad", "first_name": "A", "last_name": "B", "date_of_birth": bad}),
            )
            .await;
        assert_error(&created, 422);
        assert_eq!(created.body["errors"][0]["field"], "date_of_birth", "{bad}: {}", created.body);
        let updated = app.patch(&format!("/identities/{id}"), json!({"date_of_birth": bad})).await;
        assert_error(&updated, 422);
        assert_eq!(updated.body["errors"][0]["field"], "date_of_birth", "{bad}: {}", updated.body);
    }
    // Sealed as every birth date: the stored value is not in the database file in plaintext.
    let db = std::fs::read(app.db_path()).unwrap();
    assert!(!db.windows(7).any(|w| w == b"1965-03"), "the birth date is sealed");
}

//! Relationships (user links, system links from merges), custom relationship types and the graph.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

#[actix_web::test]
async fn a_link_is_created_in_both_directions_with_the_default_type() {
    let app = spawn_app().await;
    let a = app.create_identity(json!({"external_ref": "rel_a"})).await;
    let b = app.create_identity(json!({"external_ref": "rel_b"})).await;

    let r = app
        .post(
            &format!("/identities/{a}/relationships"),
            json!({"related_identity_id": b, "note": "siblings", "metadata": {"source": "crm"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body["id"].as_str().unwrap().starts_with("idrel_"), "{}", r.body);
    assert_eq!(r.body["source_identity_id"], a.as_str());
    assert_eq!(r.body["related_identity_id"], b.as_str());
    assert_eq!(r.body["relationship_type"], "user_linked");
    assert_eq!(r.body["note"], "siblings");
    assert_eq!(r.body["metadata"], json!({"source": "crm"}));

    let from_a = app.get(&format!("/identities/{a}/relationships")).await;
    assert_eq!(from_a.status, 200, "{}", from_a.body);
    let rows = data(&from_a);
    assert_eq!(rows.len(), 1, "{}", from_a.body);
    assert_eq!(rows[0]["id"], r.body["id"]);
    assert_eq!(rows[0]["related_identity_id"], b.as_str());
    assert_eq!(from_a.body["pagination"]["total"], 1);

    let from_b = app.get(&format!("/identities/{b}/relationships")).await;
    assert_eq!(from_b.status, 200, "{}", from_b.body);
    let rows = data(&from_b);
    assert_eq!(rows.len(), 1, "{}", from_b.body);
    assert_eq!(rows[0]["source_identity_id"], b.as_str());
    assert_eq!(rows[0]["related_identity_id"], a.as_str());
    assert_eq!(rows[0]["relationship_type"], "user_linked");
    assert_ne!(rows[0]["id"], r.body["id"], "each direction is its own row");

    // The path also accepts the external_ref.
    let camel = app
        .send(
            "GET",
            &format!("/identities/{a}/relationships"),
            Some(&app.sandbox_key),
            &[("Key-Inflection", "camel")],
            None,
        )
        .await;
    assert_eq!(camel.body["data"][0]["relatedIdentityId"], b.as_str(), "{}", camel.body);
    let big = app
        .post(&format!("/identities/{a}/relationships"), json!({"related_identity_id": b, "relationship_type": "related_account", "metadata": {"source_system": "crm"}}))
        .await;
    assert_eq!(big.status, 201, "{}", big.body);
    let camel = app
        .send(
            "GET",
            &format!("/identities/{a}/relationships?type=related_account"),
            Some(&app.sandbox_key),
            &[("Key-Inflection", "camel")],
            None,
        )
        .await;
    assert_eq!(
        camel.body["data"][0]["metadata"],
        json!({"source_system": "crm"}),
        "metadata keys are the client's: {}",
        camel.body
    );
    assert_eq!(
        app.delete(&format!("/identities/{a}/relationships/{}", big.body["id"].as_str().unwrap())).await.status,
        200
    );

    let by_ref = app.get("/identities/rel_b/relationships").await;
    assert_eq!(by_ref.status, 200);
    assert_eq!(data(&by_ref).len(), 1);

    // A link from an identity that does not exist.
    assert_error(&app.get("/identities/idn_nope/relationships").await, 404);
}

#[actix_web::test]
async fn the_type_filter_restricts_the_list() {
    let app = spawn_app().await;
    let a = app.create_identity(json!({"external_ref": "tf_a"})).await;
    let b = app.create_identity(json!({"external_ref": "tf_b"})).await;
    let c = app.create_identity(json!({"external_ref": "tf_c"})).await;
    link(&app, &a, &b, "user_linked").await;
    link(&app, &a, &c, "family_member").await;
    // The same pair may be linked with a second, different type.
    link(&app, &a, &b, "business_associate").await;

    let all = app.get(&format!("/identities/{a}/relationships")).await;
    assert_eq!(data(&all).len(), 3, "{}", all.body);

    let family = app.get(&format!("/identities/{a}/relationships?type=family_member")).await;
    assert_eq!(family.status, 200);
    let rows = data(&family);
    assert_eq!(rows.len(), 1, "{}", family.body);
    assert_eq!(rows[0]["related_identity_id"], c.as_str());
    assert_eq!(rows[0]["relationship_type"], "family_member");
    assert_eq!(family.body["pagination"]["total"], 1);

    let none = app.get(&format!("/identities/{a}/relationships?type=same_household")).await;
    assert_eq!(data(&none).len(), 0);

    let limited = app.get(&format!("/identities/{a}/relationships?limit=2")).await;
    assert_eq!(data(&limited).len(), 2);
    assert_eq!(limited.body["pagination"]["total"], 3);
}

#[actix_web::test]
async fn invalid_links_are_refused() {
    let app = spawn_app().await;
    let a = app.create_identity(json!({"external_ref": "bad_a"})).await;
    let b = app.create_identity(json!({"external_ref": "bad_b"})).await;
    let path = format!("/identities/{a}/relationships");

    for system in ["same_document", "same_name_dob", "same_email", "same_face", "merged"] {
        let r = app.post(&path, json!({"related_identity_id": b, "relationship_type": system})).await;
        assert_eq!(assert_error(&r, 409), "conflict", "system type {system}");
    }
    // A type name that names nothing, and a related identity that does not exist, are 404s.
    let r = app.post(&path, json!({"related_identity_id": b, "relationship_type": "best_friend"})).await;
    assert_eq!(assert_error(&r, 404), "not_found");
    assert!(r.body["detail"].as_str().unwrap().contains("best_friend"), "{}", r.body);
    // A link to itself is refused whatever the request's shape: 409, like merging an identity into itself.
    let r = app.post(&path, json!({"related_identity_id": a})).await;
    assert_eq!(assert_error(&r, 409), "conflict");
    let r = app.post(&path, json!({"related_identity_id": "idn_does_not_exist"})).await;
    assert_eq!(assert_error(&r, 404), "not_found");
    assert!(r.body["detail"].as_str().unwrap().contains("Related identity"), "{}", r.body);
    let r = app.post(&path, json!({})).await;
    assert_error(&r, 422);
    let r = app.post("/identities/idn_missing/relationships", json!({"related_identity_id": b})).await;
    assert_error(&r, 404);

    // None of those created anything.
    assert_eq!(data(&app.get(&path).await).len(), 0);

    link(&app, &a, &b, "user_linked").await;
    let dup = app.post(&path, json!({"related_identity_id": b})).await;
    assert_error(&dup, 409);
    // The same link requested from the other side is a duplicate too: the link is bidirectional.
    let reverse = app.post(&format!("/identities/{b}/relationships"), json!({"related_identity_id": a})).await;
    assert_error(&reverse, 409);
    assert_eq!(data(&app.get(&path).await).len(), 1);

    // Writing links needs identities:write.
    let reader = app.key_with_scopes(&["identities:read"]).await;
    let c = app.create_identity(json!({"external_ref": "bad_c"})).await;
    let r = app.send("POST", &path, Some(&reader), &[], Some(&json!({"related_identity_id": c}))).await;
    assert_eq!(assert_error(&r, 403), "insufficient_scope");
    let r = app.send("GET", &path, Some(&reader), &[], None).await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn deleting_a_link_removes_both_directions() {
    let app = spawn_app().await;
    let a = app.create_identity(json!({"external_ref": "del_a"})).await;
    let b = app.create_identity(json!({"external_ref": "del_b"})).await;
    let c = app.create_identity(json!({"external_ref": "del_c"})).await;
    let ab = link(&app, &a, &b, "user_linked").await;
    let ac = link(&app, &a, &c, "family_member").await;

    // A relationship id is only found under its own source identity.
    assert_error(&app.delete(&format!("/identities/{c}/relationships/{ab}")).await, 404);

    let r = app.delete(&format!("/identities/{a}/relationships/{ab}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"deleted": true}));
    let from_a = app.get(&format!("/identities/{a}/relationships")).await;
    let rows = data(&from_a);
    assert_eq!(rows.len(), 1, "{}", from_a.body);
    assert_eq!(rows[0]["id"], ac.as_str());
    assert_eq!(data(&app.get(&format!("/identities/{b}/relationships")).await).len(), 0);
    assert_error(&app.delete(&format!("/identities/{a}/relationships/{ab}")).await, 404);

    // Deleting from the other side, with that side's row id, removes the forward row as well.
    let from_c = app.get(&format!("/identities/{c}/relationships")).await;
    let inverse = data(&from_c)[0]["id"].as_str().unwrap().to_string();
    let r = app.delete(&format!("/identities/{c}/relationships/{inverse}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(data(&app.get(&format!("/identities/{a}/relationships")).await).len(), 0);
    assert_eq!(data(&app.get(&format!("/identities/{c}/relationships")).await).len(), 0);

    // Once deleted, the same link can be made again.
    link(&app, &a, &b, "user_linked").await;
}

#[actix_web::test]
async fn a_merge_records_a_system_link_and_carries_user_links_over() {
    let app = spawn_app().await;
    let primary = app.create_identity(json!({"external_ref": "m_primary"})).await;
    let secondary = app.create_identity(json!({"external_ref": "m_secondary"})).await;
    let friend = app.create_identity(json!({"external_ref": "m_friend"})).await;
    link(&app, &secondary, &friend, "family_member").await;

    let r = app
        .post("/identities/merge", json!({"primary_identity_id": primary, "secondary_identity_id": secondary}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["secondary"]["status"], "merged");

    let merged = app.get(&format!("/identities/{secondary}/relationships?type=merged")).await;
    let rows = data(&merged);
    assert_eq!(rows.len(), 1, "{}", merged.body);
    assert_eq!(rows[0]["related_identity_id"], primary.as_str());
    assert_eq!(rows[0]["relationship_type"], "merged");
    let system_rel = rows[0]["id"].as_str().unwrap().to_string();

    let back = app.get(&format!("/identities/{primary}/relationships?type=merged")).await;
    let rows = data(&back);
    assert_eq!(rows.len(), 1, "{}", back.body);
    assert_eq!(rows[0]["related_identity_id"], secondary.as_str());
    let primary_side = rows[0]["id"].as_str().unwrap().to_string();

    // The secondary's user link now also exists on the primary, in both directions.
    let carried = app.get(&format!("/identities/{primary}/relationships?type=family_member")).await;
    let rows = data(&carried);
    assert_eq!(rows.len(), 1, "{}", carried.body);
    assert_eq!(rows[0]["related_identity_id"], friend.as_str());
    let friend_links = app.get(&format!("/identities/{friend}/relationships?type=family_member")).await;
    let targets: BTreeSet<String> =
        data(&friend_links).iter().map(|r| r["related_identity_id"].as_str().unwrap().to_string()).collect();
    assert!(targets.contains(&primary), "{}", friend_links.body);

    // The graph shows the merge edge.
    let g = app.get(&format!("/identities/{secondary}/graph?relationship_types=merged")).await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(node_depths(&g).get(&primary), Some(&1), "{}", g.body);
    let edges = g.body["edges"].as_array().unwrap();
    assert!(edges.iter().any(|e| e["relationship_type"] == "merged"), "{}", g.body);

    // System links cannot be deleted, from either side.
    let r = app.delete(&format!("/identities/{secondary}/relationships/{system_rel}")).await;
    assert_error(&r, 409);
    let r = app.delete(&format!("/identities/{primary}/relationships/{primary_side}")).await;
    assert_error(&r, 409);
    assert_eq!(data(&app.get(&format!("/identities/{secondary}/relationships?type=merged")).await).len(), 1);
}

#[actix_web::test]
async fn custom_relationship_types_can_be_managed() {
    let app = spawn_app().await;
    let r = app.post("/relationship-types", json!({"name": "mentor_of", "label": "Mentor"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("crel_"), "{}", r.body);
    assert_eq!(r.body["name"], "mentor_of");
    assert_eq!(r.body["label"], "Mentor");
    assert_eq!(r.body["inverse_label"], "Mentor", "inverse_label defaults to label");
    assert_eq!(r.body["is_active"], true);

    let asym = app
        .post(
            "/relationship-types",
            json!({"name": "employer_of", "label": "Employer", "inverse_label": "Employee", "description": "work"}),
        )
        .await;
    assert_eq!(asym.status, 201, "{}", asym.body);
    assert_eq!(asym.body["inverse_label"], "Employee");
    assert_eq!(asym.body["description"], "work");

    assert_error(&app.post("/relationship-types", json!({"name": "mentor_of", "label": "Again"})).await, 409);
    for bad in ["Mentor Of", "mentor-of", "", "9lives"] {
        let r = app.post("/relationship-types", json!({"name": bad, "label": "X"})).await;
        assert_error(&r, 422);
    }
    // A built-in type's name is taken, like a custom type's.
    for builtin in ["user_linked", "family_member", "merged", "same_document"] {
        let r = app.post("/relationship-types", json!({"name": builtin, "label": "X"})).await;
        assert_eq!(assert_error(&r, 409), "conflict", "{builtin}");
    }
    assert_error(&app.post("/relationship-types", json!({"name": "no_label"})).await, 422);

    let got = app.get(&format!("/relationship-types/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["name"], "mentor_of");
    let list = app.get("/relationship-types").await;
    assert_eq!(list.status, 200);
    let names: BTreeSet<String> = data(&list).iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, BTreeSet::from(["mentor_of".to_string(), "employer_of".to_string()]));

    let patched = app
        .patch(
            &format!("/relationship-types/{id}"),
            json!({"label": "Mentor of", "is_active": false, "description": "guides"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["label"], "Mentor of");
    assert_eq!(patched.body["is_active"], false);
    assert_eq!(patched.body["description"], "guides");
    assert_eq!(patched.body["name"], "mentor_of");
    let got = app.get(&format!("/relationship-types/{id}")).await;
    assert_eq!(got.body["is_active"], false);
    assert_eq!(got.body["label"], "Mentor of");
    let r = app.patch(&format!("/relationship-types/{id}"), json!({"inverse_label": "Mentee of"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["inverse_label"], "Mentee of");
    assert_eq!(r.body["label"], "Mentor of", "untouched fields are kept");

    let r = app.patch(&format!("/relationship-types/{id}"), json!({"name": "renamed"})).await;
    assert_error(&r, 422);
    assert_eq!(app.get(&format!("/relationship-types/{id}")).await.body["name"], "mentor_of");
    assert_error(&app.patch(&format!("/relationship-types/{id}"), json!({"label": ""})).await, 422);

    let r = app.delete(&format!("/relationship-types/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"deleted": true}));
    assert_error(&app.get(&format!("/relationship-types/{id}")).await, 404);
    assert_error(&app.patch(&format!("/relationship-types/{id}"), json!({"label": "x"})).await, 404);
    assert_error(&app.delete(&format!("/relationship-types/{id}")).await, 404);
    assert_error(&app.get("/relationship-types/crel_unknown").await, 404);

    // settings:write is enough to manage types; identities:read is not.
    let settings = app.key_with_scopes(&["settings:write", "identities:read"]).await;
    let body = json!({"name": "guardian_of", "label": "Guardian"});
    let r = app.send("POST", "/relationship-types", Some(&settings), &[], Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let reader = app.key_with_scopes(&["identities:read"]).await;
    let body = json!({"name": "ward_of", "label": "Ward"});
    let r = app.send("POST", "/relationship-types", Some(&reader), &[], Some(&body)).await;
    assert_eq!(assert_error(&r, 403), "insufficient_scope");

    // Types are per environment: the live key does not see sandbox types.
    let live = app.live_get("/relationship-types").await;
    assert_eq!(live.status, 200);
    assert_eq!(data(&live).len(), 0, "{}", live.body);
    assert_error(&app.live_get(&format!("/relationship-types/{}", asym.body["id"].as_str().unwrap())).await, 404);
}

#[actix_web::test]
async fn links_may_use_active_custom_types_only() {
    let app = spawn_app().await;
    let a = app.create_identity(json!({"external_ref": "ct_a"})).await;
    let b = app.create_identity(json!({"external_ref": "ct_b"})).await;
    let c = app.create_identity(json!({"external_ref": "ct_c"})).await;
    let t = app.post("/relationship-types", json!({"name": "co_signer", "label": "Co-signer"})).await;
    assert_eq!(t.status, 201, "{}", t.body);
    let type_id = t.body["id"].as_str().unwrap().to_string();

    let rel = app
        .post(
            &format!("/identities/{a}/relationships"),
            json!({"related_identity_id": b, "relationship_type": "co_signer"}),
        )
        .await;
    assert_eq!(rel.status, 201, "{}", rel.body);
    assert_eq!(rel.body["relationship_type"], "co_signer");
    let back = app.get(&format!("/identities/{b}/relationships?type=co_signer")).await;
    assert_eq!(data(&back).len(), 1, "{}", back.body);

    let r = app.patch(&format!("/relationship-types/{type_id}"), json!({"is_active": false})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let refused = app
        .post(
            &format!("/identities/{a}/relationships"),
            json!({"related_identity_id": c, "relationship_type": "co_signer"}),
        )
        .await;
    assert_eq!(assert_error(&refused, 409), "conflict");

    let r = app.patch(&format!("/relationship-types/{type_id}"), json!({"is_active": true})).await;
    assert_eq!(r.status, 200);
    let ok = app
        .post(
            &format!("/identities/{a}/relationships"),
            json!({"related_identity_id": c, "relationship_type": "co_signer"}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);

    assert_eq!(app.delete(&format!("/relationship-types/{type_id}")).await.status, 200);
    let gone = app
        .post(
            &format!("/identities/{b}/relationships"),
            json!({"related_identity_id": c, "relationship_type": "co_signer"}),
        )
        .await;
    assert_eq!(assert_error(&gone, 404), "not_found");

    // Custom types belong to one environment: a live link cannot use a sandbox type.
    let t = app.post("/relationship-types", json!({"name": "sandbox_only", "label": "Sandbox only"})).await;
    assert_eq!(t.status, 201, "{}", t.body);
    let mut live_ids = Vec::new();
    for external_ref in ["live_x", "live_y"] {
        let body = json!({"external_ref": external_ref});
        let r = app.send("POST", "/identities", Some(&app.live_key), &[], Some(&body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        live_ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let body = json!({"related_identity_id": live_ids[1], "relationship_type": "sandbox_only"});
    let path = format!("/identities/{}/relationships", live_ids[0]);
    assert_error(&app.send("POST", &path, Some(&app.live_key), &[], Some(&body)).await, 404);
    // Nor can it link to an identity of the other environment.
    let body = json!({"related_identity_id": a});
    let r = app.send("POST", &path, Some(&app.live_key), &[], Some(&body)).await;
    assert_error(&r, 404);
    assert_error(&app.get(&format!("/identities/{}/relationships", live_ids[0])).await, 404);
}

#[actix_web::test]
async fn the_graph_walks_breadth_first_up_to_the_depth() {
    let app = spawn_app().await;
    let chain = chain(&app, "g", 7, "user_linked").await;
    let [a, b, c, _d, _e, f, g] = <[String; 7]>::try_from(chain.clone()).unwrap();

    let r = app.get(&format!("/identities/{a}/graph?depth=2")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["root_identity_id"], a.as_str());
    let depths = node_depths(&r);
    assert_eq!(depths, BTreeMap::from([(a.clone(), 0), (b.clone(), 1), (c.clone(), 2)]), "{}", r.body);
    assert_edges_within_nodes(&r);
    assert_eq!(r.body["edges"].as_array().unwrap().len(), 2, "{}", r.body);

    // The default depth is 2.
    let default = app.get(&format!("/identities/{a}/graph")).await;
    assert_eq!(node_depths(&default), depths);

    let r = app.get(&format!("/identities/{a}/graph?depth=5")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let depths = node_depths(&r);
    assert_eq!(depths.len(), 6, "{}", r.body);
    for (i, id) in chain.iter().take(6).enumerate() {
        assert_eq!(depths.get(id), Some(&(i as u64)), "node {i}: {}", r.body);
    }
    assert_eq!(depths.get(&f), Some(&5));
    assert!(!depths.contains_key(&g), "G is 6 hops away: {}", r.body);
    assert_edges_within_nodes(&r);

    let r = app.get(&format!("/identities/{a}/graph?depth=1")).await;
    assert_eq!(node_depths(&r), BTreeMap::from([(a.clone(), 0), (b.clone(), 1)]));

    // From the middle, both directions are walked.
    let r = app.get(&format!("/identities/{}/graph?depth=1", chain[3])).await;
    assert_eq!(
        node_depths(&r),
        BTreeMap::from([(chain[3].clone(), 0), (chain[2].clone(), 1), (chain[4].clone(), 1)]),
        "{}",
        r.body
    );

    for bad in ["6", "0", "-1", "two"] {
        assert_error(&app.get(&format!("/identities/{a}/graph?depth={bad}")).await, 422);
    }
    assert_error(&app.get("/identities/idn_nope/graph").await, 404);

    // A lone identity's graph is just the root.
    let lone = app.create_identity(json!({"external_ref": "g_lone"})).await;
    let r = app.get(&format!("/identities/{lone}/graph")).await;
    assert_eq!(node_depths(&r), BTreeMap::from([(lone.clone(), 0)]));
    assert_eq!(r.body["edges"], json!([]));
}

#[actix_web::test]
async fn graph_depths_are_shortest_paths() {
    let app = spawn_app().await;
    let ring = chain(&app, "ring", 4, "user_linked").await;
    // Close the ring: the last node is one hop from the first.
    link(&app, &ring[0], &ring[3], "user_linked").await;
    let r = app.get(&format!("/identities/{}/graph?depth=5", ring[0])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let depths = node_depths(&r);
    assert_eq!(
        depths,
        BTreeMap::from([(ring[0].clone(), 0), (ring[1].clone(), 1), (ring[2].clone(), 2), (ring[3].clone(), 1)]),
        "{}",
        r.body
    );
    assert_edges_within_nodes(&r);
    // Every link appears once, not once per direction.
    assert_eq!(r.body["edges"].as_array().unwrap().len(), 4, "{}", r.body);
}

#[actix_web::test]
async fn graph_filters_restrict_edges_and_nodes() {
    let app = spawn_app().await;
    // a -user_linked- b -family_member- c ; a -family_member- d -user_linked- e
    let a = app.create_identity(json!({"external_ref": "f_a"})).await;
    let b = app.create_identity(json!({"external_ref": "f_b"})).await;
    let c = app.create_identity(json!({"external_ref": "f_c"})).await;
    let d = app.create_identity(json!({"external_ref": "f_d"})).await;
    let e = app.create_identity(json!({"external_ref": "f_e"})).await;
    link(&app, &a, &b, "user_linked").await;
    link(&app, &b, &c, "family_member").await;
    link(&app, &a, &d, "family_member").await;
    link(&app, &d, &e, "user_linked").await;

    let all = app.get(&format!("/identities/{a}/graph?depth=5")).await;
    assert_eq!(node_depths(&all).len(), 5, "{}", all.body);

    let r = app.get(&format!("/identities/{a}/graph?depth=5&relationship_types=user_linked")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(node_depths(&r), BTreeMap::from([(a.clone(), 0), (b.clone(), 1)]), "{}", r.body);
    assert!(r.body["edges"].as_array().unwrap().iter().all(|e| e["relationship_type"] == "user_linked"));

    let r = app.get(&format!("/identities/{a}/graph?depth=5&relationship_types=family_member")).await;
    assert_eq!(node_depths(&r), BTreeMap::from([(a.clone(), 0), (d.clone(), 1)]), "{}", r.body);

    let r = app.get(&format!("/identities/{a}/graph?depth=5&relationship_types=family_member,user_linked")).await;
    assert_eq!(node_depths(&r).len(), 5, "{}", r.body);

    // Excluding b drops it and c (only reachable through b); the root survives its own exclusion.
    let r = app.get(&format!("/identities/{a}/graph?depth=5&exclude_identity_ids={b}")).await;
    assert_eq!(node_depths(&r), BTreeMap::from([(a.clone(), 0), (d.clone(), 1), (e.clone(), 2)]), "{}", r.body);
    assert_edges_within_nodes(&r);
    let r = app.get(&format!("/identities/{a}/graph?depth=5&exclude_identity_ids={b},{e}")).await;
    assert_eq!(node_depths(&r), BTreeMap::from([(a.clone(), 0), (d.clone(), 1)]), "{}", r.body);
    let r = app.get(&format!("/identities/{a}/graph?depth=5&exclude_identity_ids={a}")).await;
    assert_eq!(node_depths(&r).get(&a), Some(&0), "{}", r.body);

    // Status filter: b rejected drops b and c behind it.
    let p = app.patch(&format!("/identities/{b}"), json!({"status": "rejected"})).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let r = app.get(&format!("/identities/{a}/graph?depth=5&identity_statuses=pending")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(node_depths(&r), BTreeMap::from([(a.clone(), 0), (d.clone(), 1), (e.clone(), 2)]), "{}", r.body);
    assert_edges_within_nodes(&r);
    // Aliases from the newer vocabulary are accepted (created = pending).
    let r = app.get(&format!("/identities/{a}/graph?depth=5&identity_statuses=created")).await;
    assert_eq!(node_depths(&r).len(), 3, "{}", r.body);

    let r = app.get(&format!("/identities/{a}/graph?depth=5&identity_statuses=rejected")).await;
    assert_eq!(node_depths(&r), BTreeMap::from([(a.clone(), 0), (b.clone(), 1)]), "{}", r.body);
    let statuses: BTreeMap<String, String> = r.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap().to_string(), n["status"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(statuses.get(&b).map(String::as_str), Some("rejected"));
    assert_eq!(statuses.get(&a).map(String::as_str), Some("pending"), "the root is included whatever its status");

    let r = app.get(&format!("/identities/{a}/graph?identity_statuses=approved")).await;
    assert_eq!(node_depths(&r), BTreeMap::from([(a.clone(), 0)]), "{}", r.body);
    assert_eq!(r.body["edges"], json!([]));
}

// ---- helpers ----

fn data(r: &Resp) -> Vec<Value> {
    r.body["data"].as_array().unwrap_or_else(|| panic!("no data array: {}", r.body)).clone()
}

/// Links `a` to `b` with the given type and returns the forward relationship id.
async fn link(app: &TestApp, a: &str, b: &str, kind: &str) -> String {
    let r = app
        .post(&format!("/identities/{a}/relationships"), json!({"related_identity_id": b, "relationship_type": kind}))
        .await;
    assert_eq!(r.status, 201, "link {a} -> {b}: {}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// Creates `n` identities linked in a chain and returns their ids in order.
async fn chain(app: &TestApp, prefix: &str, n: usize, kind: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(app.create_identity(json!({"external_ref": format!("{prefix}_{i}")})).await);
    }
    for pair in ids.windows(2) {
        link(app, &pair[0], &pair[1], kind).await;
    }
    ids
}

fn node_depths(r: &Resp) -> BTreeMap<String, u64> {
    let nodes = r.body["nodes"].as_array().unwrap_or_else(|| panic!("no nodes: {}", r.body));
    let map: BTreeMap<String, u64> = nodes
        .iter()
        .map(|n| (n["id"].as_str().unwrap().to_string(), n["depth"].as_u64().expect("node depth")))
        .collect();
    assert_eq!(map.len(), nodes.len(), "nodes are unique: {}", r.body);
    map
}

fn assert_edges_within_nodes(r: &Resp) {
    let nodes = node_depths(r);
    for e in r.body["edges"].as_array().unwrap() {
        for end in ["source", "target"] {
            let id = e[end].as_str().unwrap();
            assert!(nodes.contains_key(id), "edge {end} {id} is not a node: {}", r.body);
        }
    }
}

//! Retention: a tenant's messages (and their files and copies), calls and
//! audit entries older than its settings are deleted in batches; other
//! tenants and newer records are untouched.

use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::world::World;

#[tokio::test]
async fn old_messages_calls_and_audit_entries_go_and_the_rest_stays() {
    let world = World::new().await;
    // Another tenant, with no retention, whose old messages stay.
    let rival = world.app.tenant("rival").await;
    let rival_admin = world.app.login_admin(&rival).await;
    let rival_astro = world
        .app
        .participant_login(&rival, ParticipantType::Astrologer, "Ravi")
        .await;
    let theirs = world
        .app
        .post(
            "/api/conversations",
            Some(&rival_admin.access),
            json!({ "participantId": rival_astro.id }),
        )
        .await;
    let theirs = theirs.data()["id"].as_str().unwrap().to_owned();
    world.send(&rival_admin, &theirs, "old but theirs").await;
    let conversation = world.open(&world.user, &world.astro).await;
    for n in 0..7 {
        world
            .send(&world.user, &conversation, &format!("old {n}"))
            .await;
    }
    let fresh = world.send(&world.astro, &conversation, "new").await;
    // The first seven are 40 days old; so are an audit entry and a call row.
    sqlx::query(
        "UPDATE messages SET created_at = NOW(3) - INTERVAL 40 DAY WHERE content LIKE 'old %'",
    )
    .execute(&world.app.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE audit_log SET created_at = NOW(3) - INTERVAL 400 DAY WHERE tenant_id = ? LIMIT 1",
    )
    .bind(world.tenant.id)
    .execute(&world.app.pool)
    .await
    .unwrap();
    let (audit_before,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE tenant_id = ?")
            .bind(world.tenant.id)
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    // Without a retention set, nothing goes.
    let none = world.app.core.apply_retention(3).await.unwrap();
    assert_eq!(none.messages + none.audit, 0);

    world
        .settings(json!({ "retention": { "messagesDays": 30, "auditDays": 365, "callsDays": 90 } }))
        .await;
    let removed = world.app.core.apply_retention(3).await.unwrap();

    assert_eq!(removed.messages, 7, "in batches of three");
    assert_eq!(removed.audit, 1);
    let history = world.history(&world.astro, &conversation).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["id"], fresh["id"]);
    let (audit_after,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE tenant_id = ?")
            .bind(world.tenant.id)
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    // One aged entry went; the settings change meanwhile added one.
    assert_eq!(audit_after, audit_before);
    assert_eq!(world.history(&rival_admin, &theirs).await.len(), 1);
    let settings = world.app.get("/api/settings", &world.admin.access).await;
    assert_eq!(settings.data()["retention"]["messagesDays"], json!(30));
    world
        .app
        .patch(
            "/api/settings",
            &world.admin.access,
            json!({ "retention": { "messagesDays": 99999 } }),
        )
        .await
        .assert_error(422, "validation_failed");
}

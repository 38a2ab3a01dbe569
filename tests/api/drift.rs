//! Type drift Daily is known for (WEBHOOKS.md section 1): each case still projects a knock.

use serde_json::{Value, json};

use crate::{
    daily,
    helpers::{TestApp, spawn_app},
};

/// Posts a waiting-participant.left whose payload `change` edits, and returns the stored knock.
async fn knock_after(change: impl FnOnce(&mut Value)) -> (TestApp, Value) {
    let mut event = daily::waiting_left("drift", "d0d0-1", 1719586614.027, 14.5);
    change(&mut event["payload"]);
    let app = spawn_app().await;
    let response = app.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(response.status(), 200);
    let row: Value = sqlx::query_scalar(
        "select jsonb_build_object(
            'knocked_at', extract(epoch from k.knocked_at), 'wait_seconds', k.wait_seconds,
            'outcome', k.outcome, 'user_id', k.user_id, 'user_name', k.user_name,
            'owner', k.owner, 'will_eject_at', extract(epoch from k.will_eject_at),
            'permissions', w.permissions, 'error', e.projection_error)
         from knocks k
         join waiting_sessions w using (room, session_id)
         cross join webhook_events e",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the knock was not projected");
    assert_eq!(row["error"], Value::Null);
    assert_eq!(row["outcome"], "abandoned");
    (app, row)
}

#[tokio::test]
async fn times_as_numeric_strings_are_read() {
    let (_app, row) = knock_after(|p| {
        p["joined_at"] = json!("1719586614");
        p["duration"] = json!("14.5");
        p["will_eject_at"] = json!("1719590000");
    })
    .await;
    assert_eq!(row["knocked_at"].as_f64(), Some(1719586614.0));
    assert_eq!(row["wait_seconds"].as_f64(), Some(14.5));
    assert_eq!(row["will_eject_at"].as_f64(), Some(1719590000.0));
}

#[tokio::test]
async fn integer_times_are_read() {
    let (_app, row) = knock_after(|p| p["joined_at"] = json!(1719586614)).await;
    assert_eq!(row["knocked_at"].as_f64(), Some(1719586614.0));
}

#[tokio::test]
async fn a_knocker_without_user_id_is_projected() {
    let (_app, row) = knock_after(|p| {
        p.as_object_mut().unwrap().remove("user_id");
    })
    .await;
    assert_eq!(row["user_id"], Value::Null);
    assert_eq!(row["user_name"], "guest-d0d0");
}

#[tokio::test]
async fn a_null_user_name_is_projected() {
    let (_app, row) = knock_after(|p| p["user_name"] = Value::Null).await;
    assert_eq!(row["user_name"], Value::Null);
}

#[tokio::test]
async fn permissions_as_lists_are_kept_whole() {
    let (_app, row) = knock_after(|p| {
        p["permissions"]["canSend"] = json!(["video", "audio", "screenVideo"]);
        p["permissions"]["canAdmin"] = json!(["participants"]);
    })
    .await;
    assert_eq!(
        row["permissions"]["canSend"],
        json!(["video", "audio", "screenVideo"])
    );
    assert_eq!(row["permissions"]["canAdmin"], json!(["participants"]));
}

#[tokio::test]
async fn a_scheduled_ejection_is_kept_and_null_means_none() {
    let (_app, row) = knock_after(|p| p["will_eject_at"] = json!(1719590000.5)).await;
    assert_eq!(row["will_eject_at"].as_f64(), Some(1719590000.5));
    let (_app, row) = knock_after(|p| p["will_eject_at"] = Value::Null).await;
    assert_eq!(row["will_eject_at"], Value::Null);
}

#[tokio::test]
async fn absent_optional_fields_and_unknown_keys_are_tolerated() {
    let (_app, row) = knock_after(|p| {
        let p = p.as_object_mut().unwrap();
        for key in ["user_name", "owner", "will_eject_at", "permissions"] {
            p.remove(key);
        }
        p.insert("networkQualityState".into(), json!("warning"));
        p.insert("participant_type".into(), json!("remote"));
        p.insert("user_data".into(), json!({"anything": [1, 2]}));
    })
    .await;
    assert_eq!(
        (&row["owner"], &row["permissions"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(row["wait_seconds"].as_f64(), Some(14.5));
}

#[tokio::test]
async fn owner_as_a_string_is_read() {
    let (_app, row) = knock_after(|p| p["owner"] = json!("true")).await;
    assert_eq!(row["owner"], true);
}

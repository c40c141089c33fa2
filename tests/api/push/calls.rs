//! Calls: an incoming call rings the callee's phones (an FCM high-priority
//! data push; an APNs VoIP push on a VoIP token), its end stops them, and a
//! missed call leaves an inbox entry and an alert.

use serde_json::json;

use super::{WAIT, device, push_world, quiesced};
use crate::calls::configure_agora;

async fn call(w: &super::PushWorld, ring_secs: u32) -> String {
    configure_agora(w).await;
    w.settings(json!({ "ringTimeoutSeconds": ring_secs })).await;
    w.app
        .post(
            "/api/calls/initiate",
            Some(&w.user.access),
            json!({ "calleeId": w.astro.id, "callType": "video" }),
        )
        .await
        .data()["callId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_incoming_call_rings_android_and_ios_voip_and_its_end_stops_them() {
    let w = push_world().await;
    let voip = crate::helpers::push::apns::device_token("astro-voip");
    let alerts = crate::helpers::push::apns::device_token("astro-alerts");
    device(&w.app, &w.astro, "fcm", "astro-android", false).await;
    device(&w.app, &w.astro, "apns", &voip, true).await;
    // Its alert token is left alone: the VoIP token rings that iPhone.
    device(&w.app, &w.astro, "apns", &alerts, false).await;

    let id = call(&w, 60).await;

    let ring = w.fcm.next_message(WAIT).await;
    assert_eq!(ring.token, "astro-android");
    assert_eq!(ring.message["data"]["type"], "call");
    assert_eq!(ring.message["data"]["callId"], id.as_str());
    assert_eq!(ring.message["data"]["callType"], "video");
    assert_eq!(ring.message["data"]["callerName"], "Uma");
    assert_eq!(ring.message["android"]["priority"], "high");
    assert!(ring.message.get("notification").is_none(), "a data push");
    let pushed = w.apns.wait_for(1, WAIT).await;
    assert_eq!(pushed[0].device_token, voip);
    assert_eq!(pushed[0].header("apns-push-type"), Some("voip"));
    let topic = format!("{}.voip", crate::helpers::push::APNS_BUNDLE_ID);
    assert_eq!(pushed[0].header("apns-topic"), Some(topic.as_str()));
    assert_eq!(pushed[0].body["callId"], id.as_str());

    // The caller gives up: both stop ringing, and the callee hears of the
    // missed call on the devices that show alerts.
    w.app
        .post(
            &format!("/api/calls/{id}/end"),
            Some(&w.user.access),
            json!({}),
        )
        .await
        .data();
    let kind = |data: &serde_json::Value| data["type"].as_str().unwrap().to_owned();
    let android: Vec<_> = w
        .fcm
        .wait_for(3, WAIT)
        .await
        .iter()
        .map(|m| kind(&m.message["data"]))
        .collect();
    assert_eq!(android, ["call", "call_cancel", "missed_call"]);
    let ios = w.apns.wait_for(3, WAIT).await;
    let to = |token: &str| -> Vec<(String, String)> {
        ios.iter()
            .filter(|p| p.device_token == token)
            .map(|p| {
                (
                    p.header("apns-push-type").unwrap().to_owned(),
                    kind(&p.body),
                )
            })
            .collect()
    };
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        to(&voip),
        [pair("voip", "call"), pair("voip", "call_cancel")]
    );
    assert_eq!(to(&alerts), [pair("alert", "missed_call")]);
    let stop = ios.iter().find(|p| kind(&p.body) == "call_cancel").unwrap();
    assert_eq!(stop.body["callId"], id.as_str());
    quiesced(&w.app).await;
    assert_eq!(w.apns.count(), 3);
}

#[tokio::test]
async fn a_missed_call_makes_an_inbox_entry_and_a_push() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "astro-android", false).await;

    let id = call(&w, 2).await;

    let ring = w.fcm.next_message(WAIT).await;
    assert_eq!(ring.message["data"]["type"], "call");
    // Unanswered: the ringing stops and the missed call is told.
    let mut rest = [
        w.fcm.next_message(WAIT).await,
        w.fcm.next_message(WAIT).await,
    ];
    rest.sort_by_key(|m| m.message["data"]["type"].as_str().unwrap().to_owned());
    assert_eq!(rest[0].message["data"]["type"], "call_cancel");
    assert_eq!(rest[0].message["data"]["status"], "missed");
    let alert = &rest[1].message;
    assert_eq!(alert["data"]["type"], "missed_call");
    assert_eq!(alert["notification"]["title"], "Uma");
    assert_eq!(alert["notification"]["body"], "Missed video call");
    let inbox = crate::world::inbox_until(&w.app, &w.astro, |i| {
        i.iter().any(|n| n["type"] == "missed_call")
    })
    .await;
    assert_eq!(inbox[0]["subjectId"], json!(id));
    assert_eq!(alert["data"]["notificationId"], inbox[0]["id"]);
    quiesced(&w.app).await;
    assert_eq!(w.fcm.count(), 3);
}

//! The fake push providers themselves (`helpers::push`): they must refuse
//! what the real FCM and APNs refuse, or the push tests prove nothing.
//! These talk to the fakes directly, signing with the test keys; no app.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::push::{
    APNS_BUNDLE_ID, APNS_KEY_ID, APNS_TEAM_ID, ApnsPush, CLIENT_EMAIL, FCM_SCOPE, FakeApns,
    FakeFcm, FcmMessage, PROJECT_ID, TestKeys, apns::device_token, keys,
};

const WAIT: Duration = Duration::from_secs(10);

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// A service-account assertion for `token_uri`, signed with `pem`.
fn assertion(pem: &str, token_uri: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(keys().service_account_key_id().to_owned());
    let claims = json!({
        "iss": CLIENT_EMAIL, "scope": FCM_SCOPE, "aud": token_uri,
        "iat": now(), "exp": now() + 3600,
    });
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    encode(&header, &claims, &key).unwrap()
}

/// An APNs provider token issued at `iat`, signed with `keys`' `.p8` key.
fn provider_token(keys: &TestKeys, iat: i64) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(APNS_KEY_ID.to_owned());
    let key = EncodingKey::from_ec_pem(keys.apns_p8().as_bytes()).unwrap();
    encode(&header, &json!({ "iss": APNS_TEAM_ID, "iat": iat }), &key).unwrap()
}

async fn exchange(fcm: &FakeFcm, assertion: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion),
    ];
    let client = reqwest::Client::new();
    let res = client
        .post(fcm.token_uri())
        .form(&form)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

async fn send(fcm: &FakeFcm, bearer: Option<&str>, message: Value) -> reqwest::Response {
    let url = format!("{}/v1/projects/{PROJECT_ID}/messages:send", fcm.base());
    let mut request = reqwest::Client::new()
        .post(url)
        .json(&json!({ "message": message }));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    request.send().await.unwrap()
}

async fn access_token(fcm: &FakeFcm) -> String {
    let pem = keys().service_account_pem();
    let (status, body) = exchange(fcm, &assertion(pem, &fcm.token_uri())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn fcm_refuses_an_assertion_signed_by_another_key() {
    let fcm = FakeFcm::start().await;
    let other = TestKeys::generate();
    let forged = assertion(other.service_account_pem(), &fcm.token_uri());

    let (status, body) = exchange(&fcm, &forged).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("InvalidSignature"), "{description}");
    assert_eq!(fcm.token_requests(), 1);
}

#[tokio::test]
async fn fcm_records_a_message_sent_with_a_token_it_granted() {
    let fcm = FakeFcm::start().await;
    let file: Value = serde_json::from_str(&keys().service_account_json(&fcm.token_uri())).unwrap();
    assert_eq!(
        (&file["type"], &file["project_id"]),
        (&json!("service_account"), &json!(PROJECT_ID))
    );
    assert_eq!(file["client_email"], CLIENT_EMAIL);
    let pem = file["private_key"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    let token_uri = file["token_uri"].as_str().unwrap();
    let (status, grant) = exchange(&fcm, &assertion(pem, token_uri)).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 3599);

    let message = json!({ "token": "device-1", "data": { "kind": "message" } });
    let res = send(&fcm, grant["access_token"].as_str(), message.clone()).await;

    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let name = body["name"].as_str().unwrap();
    assert!(name.starts_with("projects/samvad-test/messages/"), "{name}");
    let recorded: FcmMessage = fcm.next_message(WAIT).await;
    assert_eq!(
        (recorded.token.as_str(), &recorded.message),
        ("device-1", &message)
    );
    assert_eq!(fcm.messages()[0].name, name);
    assert_eq!((fcm.count(), fcm.attempts("device-1")), (1, 1));
}

#[tokio::test]
async fn fcm_refuses_a_send_without_or_with_a_wrong_bearer() {
    let fcm = FakeFcm::start().await;
    let message = json!({ "token": "device-1" });

    for bearer in [None, Some("ya29.made-up")] {
        let res = send(&fcm, bearer, message.clone()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    }
    assert_eq!(fcm.count(), 0);
}

#[tokio::test]
async fn fcm_refuses_expired_and_revoked_access_tokens() {
    let fcm = FakeFcm::start().await;
    fcm.set_expires_in(0);
    let expired = access_token(&fcm).await;
    fcm.set_expires_in(3599);
    let revoked = access_token(&fcm).await;
    fcm.revoke_tokens();
    let fresh = access_token(&fcm).await;

    let message = json!({ "token": "device-1" });
    let statuses = [
        send(&fcm, Some(&expired), message.clone()).await.status(),
        send(&fcm, Some(&revoked), message.clone()).await.status(),
        send(&fcm, Some(&fresh), message).await.status(),
    ];

    let unauthorized = StatusCode::UNAUTHORIZED;
    assert_eq!(statuses, [unauthorized, unauthorized, StatusCode::OK]);
    assert_eq!(fcm.token_requests(), 3);
}

#[tokio::test]
async fn fcm_refuses_data_values_that_are_not_strings() {
    let fcm = FakeFcm::start().await;
    let token = access_token(&fcm).await;

    let res = send(
        &fcm,
        Some(&token),
        json!({ "token": "d", "data": { "n": 1 } }),
    )
    .await;

    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(fcm.count(), 0);
}

#[tokio::test]
async fn fcm_answers_scripted_tokens_as_google_does() {
    let fcm = FakeFcm::start().await;
    let token = access_token(&fcm).await;
    fcm.unregistered("gone");
    fcm.fail_times("busy", 1, 503, Some(7));

    let gone = send(&fcm, Some(&token), json!({ "token": "gone" })).await;
    let busy = send(&fcm, Some(&token), json!({ "token": "busy" })).await;
    let again = send(&fcm, Some(&token), json!({ "token": "busy" })).await;

    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["error"]["details"][0]["errorCode"], "UNREGISTERED");
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()["retry-after"], "7");
    assert_eq!(again.status(), StatusCode::OK);
    fcm.wait_for_attempts("busy", 2, WAIT).await;
    let log = fcm.attempt_log("busy");
    let statuses: Vec<u16> = log.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [503, 200]);
    assert!(log[0].at <= log[1].at);
    assert_eq!(fcm.wait_for(1, WAIT).await[0].token, "busy");
}

fn h2() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

/// An alert push to `device` on the app's topic.
fn apns_push(
    client: &reqwest::Client,
    apns: &FakeApns,
    device: &str,
    jwt: &str,
) -> reqwest::RequestBuilder {
    apns_typed(client, apns, device, jwt, "alert")
}

fn apns_typed(
    client: &reqwest::Client,
    apns: &FakeApns,
    device: &str,
    jwt: &str,
    push_type: &str,
) -> reqwest::RequestBuilder {
    client
        .post(format!("{}/3/device/{device}", apns.base()))
        .header("authorization", format!("bearer {jwt}"))
        .header("apns-topic", APNS_BUNDLE_ID)
        .header("apns-push-type", push_type)
        .json(&json!({ "aps": { "alert": { "title": "Hi", "body": "there" } } }))
}

async fn reason(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn apns_refuses_http_1_1() {
    let apns = FakeApns::start().await;
    let http1 = reqwest::Client::builder().http1_only().build().unwrap();

    let res = apns_push(
        &http1,
        &apns,
        &device_token("a"),
        &provider_token(keys(), now()),
    )
    .send()
    .await
    .unwrap();

    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert_eq!(res.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);
    assert_eq!(apns.count(), 0);
}

#[tokio::test]
async fn apns_refuses_provider_tokens_it_did_not_issue_or_that_expired() {
    let apns = FakeApns::start().await;
    let device = device_token("a");
    let other = provider_token(&TestKeys::generate(), now());
    let old = provider_token(keys(), now() - 3700);

    let forged = apns_push(&h2(), &apns, &device, &other)
        .send()
        .await
        .unwrap();
    let expired = apns_push(&h2(), &apns, &device, &old).send().await.unwrap();

    assert_eq!(
        reason(forged).await,
        (StatusCode::FORBIDDEN, "InvalidProviderToken".into())
    );
    assert_eq!(
        reason(expired).await,
        (StatusCode::FORBIDDEN, "ExpiredProviderToken".into())
    );
    assert_eq!((apns.count(), apns.attempts(&device)), (0, 2));
}

#[tokio::test]
async fn apns_accepts_a_good_token_over_http2_and_records_the_push() {
    let apns = FakeApns::start().await;
    let device = device_token("a");
    let jwt = provider_token(keys(), now());
    let client = h2();

    let first = apns_push(&client, &apns, &device, &jwt)
        .header("apns-collapse-id", "conversation-1")
        .header("apns-id", "123E4567-E89B-12D3-A456-4266554400A0")
        .send()
        .await
        .unwrap();
    let second = apns_push(&client, &apns, &device, &jwt)
        .send()
        .await
        .unwrap();

    assert_eq!(
        (first.version(), first.status()),
        (reqwest::Version::HTTP_2, StatusCode::OK)
    );
    assert_eq!(
        first.headers()["apns-id"],
        "123E4567-E89B-12D3-A456-4266554400A0"
    );
    assert_eq!(second.status(), StatusCode::OK);
    assert!(second.headers().contains_key("apns-id"));
    apns.wait_for(2, WAIT).await;
    let pushes: Vec<ApnsPush> = apns.pushes();
    assert_eq!(pushes[0].header("apns-collapse-id"), Some("conversation-1"));
    assert_eq!(pushes[0].header("apns-topic"), Some(APNS_BUNDLE_ID));
    assert_eq!(pushes[0].claims["iss"], APNS_TEAM_ID);
    assert_eq!(pushes[1].body["aps"]["alert"]["title"], "Hi");
    assert_eq!(apns.provider_tokens(), 1);
}

#[tokio::test]
async fn apns_answers_scripted_tokens_as_apple_does() {
    let apns = FakeApns::start().await;
    let jwt = provider_token(keys(), now());
    let client = h2();
    let [gone, bad, busy] = ["gone", "bad", "busy"].map(device_token);
    apns.unregistered(&gone);
    apns.bad_token(&bad);
    apns.fail_times(&busy, 1, 429);

    let unregistered = apns_push(&client, &apns, &gone, &jwt).send().await.unwrap();
    let bad_token = apns_push(&client, &apns, &bad, &jwt).send().await.unwrap();
    let throttled = apns_push(&client, &apns, &busy, &jwt).send().await.unwrap();
    let delivered = apns_push(&client, &apns, &busy, &jwt).send().await.unwrap();

    assert_eq!(unregistered.status(), StatusCode::GONE);
    let body: Value = unregistered.json().await.unwrap();
    assert_eq!(body["reason"], "Unregistered");
    assert!(body["timestamp"].as_i64().unwrap() > 0);
    assert_eq!(
        reason(bad_token).await,
        (StatusCode::BAD_REQUEST, "BadDeviceToken".into())
    );
    let too_many = (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests".into());
    assert_eq!(reason(throttled).await, too_many);
    let apns_id = delivered.headers()["apns-id"].to_str().unwrap().to_owned();
    apns.wait_for_attempts(&busy, 2, WAIT).await;
    let pushes = apns.wait_for(1, WAIT).await;
    assert_eq!(
        (pushes.len(), pushes[0].device_token.as_str()),
        (1, busy.as_str())
    );
    assert_eq!(pushes[0].apns_id, apns_id);
}

#[tokio::test]
async fn apns_refuses_what_apple_documents_as_bad_requests() {
    let apns = FakeApns::start().await;
    let jwt = provider_token(keys(), now());
    let (device, client) = (device_token("a"), h2());

    let voip_on_app_topic = apns_typed(&client, &apns, &device, &jwt, "voip");
    let not_hex = apns_push(&client, &apns, "device-1", &jwt);
    let long_collapse_id =
        apns_push(&client, &apns, &device, &jwt).header("apns-collapse-id", "c".repeat(65));
    let urgent_background =
        apns_typed(&client, &apns, &device, &jwt, "background").header("apns-priority", "10");
    let too_large = apns_push(&client, &apns, &device, &jwt)
        .json(&json!({ "aps": { "alert": "x".repeat(4096) } }));

    let mut answers = Vec::new();
    for request in [
        voip_on_app_topic,
        not_hex,
        long_collapse_id,
        urgent_background,
        too_large,
    ] {
        answers.push(reason(request.send().await.unwrap()).await.1);
    }

    let expected = [
        "TopicDisallowed",
        "BadDeviceToken",
        "BadCollapseId",
        "BadPriority",
        "PayloadTooLarge",
    ];
    assert_eq!(answers, expected);
    assert_eq!(apns.count(), 0);
}

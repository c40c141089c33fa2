//! A fake Apple Push Notification service for tests: a poem server on
//! `127.0.0.1:0` that mirrors APNs' provider API, `POST /3/device/<token>`,
//! with token-based authentication.
//!
//! Like APNs it speaks HTTP/2 only (cleartext, prior knowledge, where the
//! real one is HTTP/2 over TLS) and answers anything else 505. It checks
//! the `authorization: bearer <JWT>` provider token (ES256, `kid`
//! [`APNS_KEY_ID`], `iss` [`APNS_TEAM_ID`], `iat` within the hour, signed by
//! [`keys()`]'s `.p8` key), the `apns-*` headers and the payload as Apple
//! documents them, and answers `200` with an `apns-id` header or Apple's
//! `{"reason":…}` errors. Tests script answers per device token, then await
//! what was recorded.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    ops::Deref,
    sync::{Arc, Mutex, MutexGuard},
};

use jsonwebtoken::{Algorithm, Validation};
use poem::{
    EndpointExt, Request, Response, Route, handler,
    http::{StatusCode, Version},
    post,
    web::{Data, Path},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use super::{
    APNS_BUNDLE_ID, APNS_KEY_ID, APNS_TEAM_ID, Recorder, bind, json_reply, keys, lock, now_secs,
    spawn,
};

/// One push APNs accepted.
#[derive(Debug, Clone)]
pub struct ApnsPush {
    pub device_token: String,
    /// Every `apns-*` request header (`apns-topic`, `apns-push-type`, …).
    pub headers: BTreeMap<String, String>,
    /// The `apns-id` answered (the request's, or one the fake made).
    pub apns_id: String,
    /// The provider token's claims (`iss`, `iat`).
    pub claims: Value,
    /// The payload (`{"aps":{…},…}`).
    pub body: Value,
}

impl ApnsPush {
    /// An `apns-*` request header, e.g. `push.header("apns-collapse-id")`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A well-formed device token (64 hex digits) derived from `label`.
pub fn device_token(label: &str) -> String {
    Sha256::digest(label)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

enum Script {
    BadToken,
    Unregistered,
    Fail { times: u32, status: u16 },
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, Script>,
    provider_tokens: HashSet<String>,
}

struct Shared {
    state: Mutex<State>,
    log: Recorder<ApnsPush>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// A running fake APNs; dropping it stops the server. It derefs to its
/// [`Recorder`]: `count()`, `attempts(token)`, `wait_for(n, timeout)`, ….
pub struct FakeApns {
    base: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FakeApns {
    /// Binds `127.0.0.1:0` and serves HTTP/2 (h2c, prior knowledge).
    pub async fn start() -> FakeApns {
        let (listener, base) = bind().await;
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            log: Recorder::new(),
        });
        let app = Route::new()
            .at("/3/device/:token", post(device_push))
            .data(Arc::clone(&shared));
        let task = spawn(listener, app);
        FakeApns { base, shared, task }
    }

    /// `http://127.0.0.1:<port>`, the APNs base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Pushes to `token` answer 400 `BadDeviceToken` from now on.
    pub fn bad_token(&self, token: &str) {
        self.script(token, Script::BadToken);
    }

    /// Pushes to `token` answer 410 `Unregistered` from now on.
    pub fn unregistered(&self, token: &str) {
        self.script(token, Script::Unregistered);
    }

    /// The next `n` pushes to `token` answer `status` (429, 500 or 503,
    /// with Apple's reason); later ones succeed.
    pub fn fail_times(&self, token: &str, n: u32, status: u16) {
        assert!(matches!(status, 429 | 500 | 503), "not 429, 500 or 503");
        self.script(token, Script::Fail { times: n, status });
    }

    fn script(&self, token: &str, script: Script) {
        self.shared.lock().scripts.insert(token.to_owned(), script);
    }

    /// The pushes accepted so far, in order.
    pub fn pushes(&self) -> Vec<ApnsPush> {
        self.accepted()
    }

    /// How many distinct valid provider tokens (JWTs) were presented: the
    /// app should reuse one (Apple allows a new one at most every 20 min).
    pub fn provider_tokens(&self) -> usize {
        self.shared.lock().provider_tokens.len()
    }
}

impl Deref for FakeApns {
    type Target = Recorder<ApnsPush>;

    fn deref(&self) -> &Recorder<ApnsPush> {
        &self.shared.log
    }
}

impl Drop for FakeApns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[handler]
fn device_push(
    req: &Request,
    Path(device): Path<String>,
    body: Vec<u8>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if req.version() != Version::HTTP_2 {
        return Response::builder()
            .status(StatusCode::HTTP_VERSION_NOT_SUPPORTED)
            .body("APNs speaks HTTP/2 only");
    }
    let apns_id = req.header("apns-id").map_or_else(
        || uuid::Uuid::now_v7().to_string().to_uppercase(),
        str::to_owned,
    );
    let (status, mut response, accepted) = match answer(shared, req, &device, &apns_id, &body) {
        Ok(push) => (StatusCode::OK, Response::default(), Some(push)),
        Err((status, reason)) => (status, json_reply(status, &reason), None),
    };
    shared.log.record(&device, status.as_u16(), accepted);
    response
        .headers_mut()
        .insert("apns-id", apns_id.parse().expect("a header value"));
    response
}

type Failure = (StatusCode, Value);

fn reason(status: u16, reason: &str) -> Failure {
    let status = StatusCode::from_u16(status).expect("an HTTP status");
    (status, json!({ "reason": reason }))
}

/// APNs' answer to one push.
fn answer(
    shared: &Shared,
    req: &Request,
    device: &str,
    apns_id: &str,
    body: &[u8],
) -> Result<ApnsPush, Failure> {
    let Some(auth) = req.header("authorization") else {
        return Err(reason(403, "MissingProviderToken"));
    };
    let jwt = auth
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, jwt)| jwt);
    let claims = check_provider_token(jwt).map_err(|why| reason(403, why))?;
    shared.lock().provider_tokens.insert(jwt.to_owned());

    let mut headers = BTreeMap::new();
    for (name, value) in req.headers() {
        let value = value.to_str().unwrap_or_default().to_owned();
        let apns = name.as_str().starts_with("apns-");
        if apns && headers.insert(name.to_string(), value).is_some() {
            return Err(reason(400, "DuplicateHeaders"));
        }
    }
    let header = |name: &str| headers.get(name).map(String::as_str);
    let hex = device.len().is_multiple_of(2) && device.bytes().all(|b| b.is_ascii_hexdigit());
    if device.is_empty() || !hex {
        return Err(reason(400, "BadDeviceToken"));
    }
    if apns_id.len() != 36 || uuid::Uuid::try_parse(apns_id).is_err() {
        return Err(reason(400, "BadMessageId"));
    }
    let push_type = header("apns-push-type").unwrap_or_default();
    if !matches!(push_type, "alert" | "background" | "voip") {
        return Err(reason(400, "InvalidPushType"));
    }
    let Some(topic) = header("apns-topic") else {
        return Err(reason(400, "MissingTopic"));
    };
    let voip = push_type == "voip";
    if topic.strip_prefix(APNS_BUNDLE_ID) != Some(if voip { ".voip" } else { "" }) {
        return Err(reason(400, "TopicDisallowed"));
    }
    // Apple: priority 10 is an error for a background (content-available only) push.
    match (header("apns-priority"), push_type) {
        (None | Some("5"), _) | (Some("10"), "alert" | "voip") => {}
        _ => return Err(reason(400, "BadPriority")),
    }
    if header("apns-expiration").is_some_and(|e| e.parse::<u64>().is_err()) {
        return Err(reason(400, "BadExpirationDate"));
    }
    if header("apns-collapse-id").is_some_and(|id| id.len() > 64) {
        return Err(reason(400, "BadCollapseId"));
    }
    let limit = if voip { 5120 } else { 4096 };
    if body.is_empty() {
        return Err(reason(400, "PayloadEmpty"));
    }
    if body.len() > limit {
        return Err(reason(413, "PayloadTooLarge"));
    }
    let payload: Value = serde_json::from_slice(body).unwrap_or_default();
    if !payload["aps"].is_object() {
        return Err(reason(400, "BadPayload"));
    }

    match shared.lock().scripts.get_mut(device) {
        Some(Script::BadToken) => return Err(reason(400, "BadDeviceToken")),
        Some(Script::Unregistered) => {
            let timestamp = now_secs() * 1000;
            let body = json!({ "reason": "Unregistered", "timestamp": timestamp });
            return Err((StatusCode::GONE, body));
        }
        Some(Script::Fail { times, status }) if *times > 0 => {
            *times -= 1;
            let why = match status {
                429 => "TooManyRequests",
                500 => "InternalServerError",
                _ => "ServiceUnavailable",
            };
            return Err(reason(*status, why));
        }
        _ => {}
    }
    Ok(ApnsPush {
        device_token: device.to_owned(),
        headers,
        apns_id: apns_id.to_owned(),
        claims,
        body: payload,
    })
}

/// Checks a provider token as APNs does; the error is Apple's reason.
fn check_provider_token(jwt: &str) -> Result<Value, &'static str> {
    const INVALID: &str = "InvalidProviderToken";
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| INVALID)?;
    if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(APNS_KEY_ID) {
        return Err(INVALID);
    }
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(jwt, keys().apns_public(), &validation)
        .map_err(|_| INVALID)?
        .claims;
    let (Some(APNS_TEAM_ID), Some(iat)) = (claims["iss"].as_str(), claims["iat"].as_i64()) else {
        return Err(INVALID);
    };
    let now = now_secs();
    if iat > now + 60 {
        return Err(INVALID);
    }
    if iat < now - 3600 {
        return Err("ExpiredProviderToken");
    }
    Ok(claims)
}

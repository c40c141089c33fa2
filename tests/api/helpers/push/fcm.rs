//! A fake Firebase Cloud Messaging for tests: a poem server on
//! `127.0.0.1:0` that mirrors two Google endpoints.
//!
//! - `POST /token`: Google's OAuth 2.0 token endpoint for service accounts
//!   (the JWT bearer grant of RFC 7523). The assertion must be RS256, signed
//!   by [`keys()`]'s service account, with Google's claims; it answers an
//!   access token, or `400 {"error":"invalid_grant",…}`.
//! - `POST /v1/projects/{project}/messages:send`: FCM HTTP v1. It checks
//!   the bearer token, the project and the message as FCM does, and answers
//!   `{"name":…}` or Google's error bodies (`UNAUTHENTICATED`,
//!   `INVALID_ARGUMENT`, `UNREGISTERED`, `UNAVAILABLE`, `QUOTA_EXCEEDED`).
//!
//! Tests script answers per device token before the app sends, then await
//! what was recorded (every attempt, and each message accepted).

use std::{
    collections::HashMap,
    ops::Deref,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, Validation};
use poem::{
    EndpointExt, Request, Response, Route, handler,
    http::StatusCode,
    post,
    web::{Data, Form, Path},
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::{
    CLIENT_EMAIL, FCM_SCOPE, PROJECT_ID, Recorder, bind, json_reply, keys, lock, now_secs, spawn,
};

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
/// The fields of FCM's `Message` (proto JSON takes both spellings).
const MESSAGE_FIELDS: &str =
    "name data notification android webpush apns fcm_options fcmOptions token topic condition";

/// One message FCM accepted.
#[derive(Debug, Clone)]
pub struct FcmMessage {
    /// The device's registration token (`message.token`).
    pub token: String,
    /// The request's `message`, as sent.
    pub message: Value,
    /// The `name` FCM answered (`projects/samvad-test/messages/…`).
    pub name: String,
}

/// A scripted answer: `Fail(times, status, retry_after)`.
enum Script {
    Unregistered,
    Fail(u32, u16, Option<u64>),
}

#[derive(Default)]
struct State {
    token_requests: usize,
    expires_in: u64,
    /// Access token → when it expires.
    issued: HashMap<String, Instant>,
    scripts: HashMap<String, Script>,
}

struct Shared {
    token_uri: String,
    state: Mutex<State>,
    log: Recorder<FcmMessage>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// A running fake FCM; dropping it stops the server. It derefs to its
/// [`Recorder`]: `count()`, `attempts(token)`, `wait_for(n, timeout)`, ….
pub struct FakeFcm {
    base: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FakeFcm {
    /// Binds `127.0.0.1:0` and serves; tokens last 3599 s, as Google's do.
    pub async fn start() -> FakeFcm {
        let (listener, base) = bind().await;
        let shared = Arc::new(Shared {
            token_uri: format!("{base}/token"),
            state: Mutex::new(State {
                expires_in: 3599,
                ..State::default()
            }),
            log: Recorder::new(),
        });
        let app = Route::new()
            .at("/token", post(oauth_token))
            .at("/v1/projects/*rest", post(send_message))
            .data(Arc::clone(&shared));
        let task = spawn(listener, app);
        FakeFcm { base, shared, task }
    }

    /// `http://127.0.0.1:<port>`, the FCM API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The OAuth token endpoint, for `service_account_json`.
    pub fn token_uri(&self) -> String {
        self.shared.token_uri.clone()
    }

    /// The `expires_in` of the access tokens handed out from now on; the
    /// fake refuses a token once it has expired.
    pub fn set_expires_in(&self, secs: u64) {
        self.shared.lock().expires_in = secs;
    }

    /// Forgets every access token issued so far (sends with them get 401).
    pub fn revoke_tokens(&self) {
        self.shared.lock().issued.clear();
    }

    /// Sends to `token` answer 404 `UNREGISTERED` from now on.
    pub fn unregistered(&self, token: &str) {
        self.script(token, Script::Unregistered);
    }

    /// The next `n` sends to `token` answer `status` (429, 500 or 503, with
    /// Google's body and a `Retry-After` when given); later ones succeed.
    pub fn fail_times(&self, token: &str, n: u32, status: u16, retry_after_secs: Option<u64>) {
        assert!(matches!(status, 429 | 500 | 503), "not 429, 500 or 503");
        self.script(token, Script::Fail(n, status, retry_after_secs));
    }

    fn script(&self, token: &str, script: Script) {
        self.shared.lock().scripts.insert(token.to_owned(), script);
    }

    /// How many requests `/token` received (granted or not).
    pub fn token_requests(&self) -> usize {
        self.shared.lock().token_requests
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<FcmMessage> {
        self.accepted()
    }

    /// The accepted message after the last one this returned, waiting for it.
    pub async fn next_message(&self, timeout: Duration) -> FcmMessage {
        self.next(timeout).await
    }
}

impl Deref for FakeFcm {
    type Target = Recorder<FcmMessage>;

    fn deref(&self) -> &Recorder<FcmMessage> {
        &self.shared.log
    }
}

impl Drop for FakeFcm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[handler]
fn oauth_token(
    form: poem::Result<Form<HashMap<String, String>>>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    shared.lock().token_requests += 1;
    let grant = form.map_err(|_| ("invalid_request", "Expected a form body.".to_owned()));
    let granted = grant.and_then(|Form(form)| {
        let grant_type = form.get("grant_type").map_or("", String::as_str);
        if grant_type != GRANT_TYPE {
            let why = format!("Invalid grant_type: {grant_type}");
            return Err(("unsupported_grant_type", why));
        }
        let assertion = form.get("assertion").map_or("", String::as_str);
        check_assertion(assertion, &shared.token_uri).map_err(|why| ("invalid_grant", why))
    });
    if let Err((error, description)) = granted {
        let body = json!({ "error": error, "error_description": description });
        return json_reply(StatusCode::BAD_REQUEST, &body);
    }
    let access_token = format!("ya29.fake-{:032x}", rand::random::<u128>());
    let mut state = shared.lock();
    let expires_in = state.expires_in;
    let expires_at = Instant::now() + Duration::from_secs(expires_in);
    state.issued.insert(access_token.clone(), expires_at);
    let body =
        json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": expires_in });
    json_reply(StatusCode::OK, &body)
}

/// Checks a service-account assertion as Google's token endpoint does.
fn check_assertion(assertion: &str, token_uri: &str) -> Result<(), String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| format!("Invalid JWT: {e}"))?;
    if header
        .kid
        .is_some_and(|kid| kid != keys().service_account_key_id())
    {
        return Err("Invalid JWT Signature.".into());
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.set_audience(&[token_uri]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    let claims = jsonwebtoken::decode::<Value>(assertion, keys().fcm_public(), &validation)
        .map_err(|e| format!("Invalid JWT: {e}"))?
        .claims;
    let (iat, exp, now) = (claims["iat"].as_i64(), claims["exp"].as_i64(), now_secs());
    let short_lived = |(iat, exp)| iat <= exp && exp - iat <= 3600 && exp > now && iat <= now + 60;
    if !iat.zip(exp).is_some_and(short_lived) {
        let why = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a \
                   reasonable timeframe. Check your iat and exp values in the JWT claim.";
        return Err(why.into());
    }
    let scope = claims["scope"].as_str().unwrap_or_default();
    if !scope.split(' ').any(|s| s == FCM_SCOPE) {
        return Err(format!("Invalid JWT: scope {scope:?} lacks {FCM_SCOPE}"));
    }
    Ok(())
}

#[handler]
fn send_message(
    req: &Request,
    Path(rest): Path<String>,
    body: Vec<u8>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let device = body["message"]["token"].as_str().unwrap_or_default();
    let (status, reply, retry_after) = match answer(shared, req, &rest, &body) {
        Ok(message) => {
            let reply = json!({ "name": message.name });
            shared.log.record(device, 200, Some(message));
            (StatusCode::OK, reply, None)
        }
        Err((status, reply, retry_after)) => {
            shared.log.record(device, status.as_u16(), None);
            (status, reply, retry_after)
        }
    };
    let mut response = json_reply(status, &reply);
    if let Some(secs) = retry_after {
        response.headers_mut().insert("retry-after", secs.into());
    }
    response
}

/// A refusal: the status, Google's body, and a `Retry-After` in seconds.
type Failure = (StatusCode, Value, Option<u64>);

/// FCM's answer to one `messages:send`, in Google's order of checks.
fn answer(shared: &Shared, req: &Request, rest: &str, body: &Value) -> Result<FcmMessage, Failure> {
    let auth = req.header("authorization").unwrap_or_default();
    let bearer = auth.strip_prefix("Bearer ");
    let expires = bearer.and_then(|token| shared.lock().issued.get(token).copied());
    if expires.is_none_or(|at| at <= Instant::now()) {
        let why = "Request had invalid authentication credentials. Expected OAuth 2 access \
                   token, login cookie or other valid authentication credential.";
        return Err(google_error(401, "UNAUTHENTICATED", why, None));
    }
    let not_found = "Requested entity was not found.";
    let Some(project) = rest.strip_suffix("/messages:send") else {
        return Err(google_error(404, "NOT_FOUND", not_found, None));
    };
    if project != PROJECT_ID {
        let why = format!("Permission 'cloudmessaging.messages.create' denied on '{project}'.");
        return Err(google_error(403, "PERMISSION_DENIED", &why, None));
    }
    let invalid =
        |why: String| google_error(400, "INVALID_ARGUMENT", &why, Some("INVALID_ARGUMENT"));
    let message = check_message(body).map_err(invalid)?;
    let device = message["token"].as_str().unwrap_or_default().to_owned();
    match shared.lock().scripts.get_mut(&device) {
        Some(Script::Unregistered) => {
            return Err(google_error(
                404,
                "NOT_FOUND",
                not_found,
                Some("UNREGISTERED"),
            ));
        }
        Some(Script::Fail(times, status, retry_after)) if *times > 0 => {
            *times -= 1;
            let (grpc, code, why) = match status {
                429 => ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded."),
                500 => ("INTERNAL", "INTERNAL", "Internal error encountered."),
                _ => ("UNAVAILABLE", "UNAVAILABLE", "The service is unavailable."),
            };
            let (status, body, _) = google_error(*status, grpc, why, Some(code));
            return Err((status, body, *retry_after));
        }
        _ => {}
    }
    let id = rand::random::<u64>();
    let name = format!("projects/{PROJECT_ID}/messages/0:{id:016x}");
    Ok(FcmMessage {
        token: device,
        message: message.clone(),
        name,
    })
}

/// The request's `message`, if FCM would take it; else why not.
fn check_message(body: &Value) -> Result<&Value, String> {
    let unknown = |name: &str, at: &str| {
        format!("Invalid JSON payload received. Unknown name {name:?}{at}: Cannot find field.")
    };
    let fields = body.as_object().ok_or("Invalid JSON payload received.")?;
    if let Some(name) = fields.keys().find(|name| *name != "message") {
        return Err(unknown(name, ""));
    }
    let message = body["message"]
        .as_object()
        .ok_or("Request contains an invalid argument.")?;
    for (name, value) in message {
        if !MESSAGE_FIELDS.split(' ').any(|field| field == name) {
            return Err(unknown(name, " at 'message'"));
        }
        let object = ["notification", "android", "apns", "webpush"].contains(&name.as_str());
        if object && !value.is_object() {
            return Err(format!("Invalid value at 'message.{name}': not an object"));
        }
    }
    if message
        .get("token")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("Recipient of the message is not set.".into());
    }
    let data = message
        .get("data")
        .map(|d| d.as_object().ok_or("'message.data': not a map"));
    for (i, (key, value)) in data.transpose()?.into_iter().flatten().enumerate() {
        if !value.is_string() {
            return Err(format!(
                "Invalid value at 'message.data[{i}].value', {value}"
            ));
        }
        let reserved = ["from", "notification", "message_type"].contains(&key.as_str());
        if reserved || key.starts_with("google.") || key.starts_with("gcm.") {
            return Err(format!("Invalid data payload key: {key}"));
        }
    }
    Ok(&body["message"])
}

/// Google's error envelope, with an FCM error code in `details` if given.
fn google_error(code: u16, status: &str, message: &str, fcm: Option<&str>) -> Failure {
    let mut error = json!({ "code": code, "message": message, "status": status });
    if let Some(fcm) = fcm {
        error["details"] = json!([{ "@type": FCM_ERROR, "errorCode": fcm }]);
    }
    let status = StatusCode::from_u16(code).expect("an HTTP status");
    (status, json!({ "error": error }), None)
}

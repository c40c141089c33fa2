//! A response as the tests read it, and the error envelope's shape.

use reqwest::{StatusCode, header::HeaderMap};
use serde_json::{Value, json};

/// A response: status, headers and the JSON body (Null when not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Res {
    /// `data` of a success envelope; panics with the body otherwise.
    pub fn data(&self) -> &Value {
        assert!(
            self.status.is_success() && self.body["success"] == json!(true),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        &self.body["data"]
    }

    /// Asserts an error envelope with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_envelope(&self.body);
        assert_eq!(
            self.body["error"]["code"],
            json!(code),
            "body: {}",
            self.body
        );
    }
}

/// Asserts the failure envelope shape `{success:false, error:{code,message}, message}`.
pub fn assert_envelope(body: &Value) {
    assert_eq!(
        body["success"],
        json!(false),
        "not an error envelope: {body}"
    );
    assert!(body["error"]["code"].is_string(), "no error.code: {body}");
    assert!(
        body["error"]["message"].is_string(),
        "no error.message: {body}"
    );
    assert_eq!(
        body["message"], body["error"]["message"],
        "message differs: {body}"
    );
}

//! Bad input on every endpoint gets a 4xx envelope, never a 500. Driven by
//! the generated OpenAPI spec, so a new endpoint is covered automatically.

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::helpers::{Res, TestApp, assert_envelope};

struct Operation {
    method: Method,
    path: String,
    body_schema: Option<Value>,
    /// An upload: its body is a multipart form, bounded while it streams.
    multipart: bool,
    query: Vec<(String, String)>,
}

fn operations(spec: &Value) -> Vec<Operation> {
    let mut out = vec![];
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let body_schema = op["requestBody"]["content"]
                .as_object()
                .and_then(|content| content.values().next())
                .map(|media| resolve(spec, &media["schema"]));
            let multipart = op["requestBody"]["content"]
                .get("multipart/form-data")
                .is_some();
            let query = op["parameters"]
                .as_array()
                .map(|params| {
                    params
                        .iter()
                        .filter(|p| p["in"] == json!("query"))
                        .map(|p| {
                            let schema = resolve(spec, &p["schema"]);
                            (p["name"].as_str().unwrap().to_owned(), type_of(&schema))
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                body_schema,
                multipart,
                query,
            });
        }
    }
    out
}

fn resolve(spec: &Value, schema: &Value) -> Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            resolve(spec, &spec["components"]["schemas"][name])
        }
        None => match schema["allOf"].as_array() {
            Some(parts) if parts.len() == 1 => resolve(spec, &parts[0]),
            _ => schema.clone(),
        },
    }
}

fn type_of(schema: &Value) -> String {
    schema["type"].as_str().unwrap_or("object").to_owned()
}

/// A value of the wrong type for `schema`. (Strings accept numbers and
/// booleans, coerced as poem-openapi does: old JS clients send phone numbers
/// as numbers. An object is never a string.)
fn wrong_value(schema: &Value) -> Value {
    match type_of(schema).as_str() {
        "string" => json!({ "not": "a string" }),
        "boolean" => json!("not a bool"),
        "integer" | "number" => json!("NaN"),
        "array" => json!({ "not": "an array" }),
        _ => json!("not an object"),
    }
}

fn assert_client_error(res: &Res, what: &str) {
    assert!(
        res.status.is_client_error(),
        "{what}: expected 4xx, got {} {}",
        res.status,
        res.body
    );
    assert_envelope(&res.body);
}

#[tokio::test]
async fn bad_input_on_every_endpoint_is_a_4xx_envelope() {
    let app = TestApp::spawn_with(|c| c.body_limit = 64 * 1024).await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let root = app.superadmin().await;
    let spec: Value = serde_json::from_str(&samvad::api::spec_json()).unwrap();
    let some_id = uuid::Uuid::now_v7().to_string();
    let ops = operations(&spec);
    assert!(
        ops.len() >= 25,
        "the spec lists only {} operations",
        ops.len()
    );

    for op in ops {
        let token = if op.path.starts_with("/api/platform") {
            &root.access
        } else {
            &admin.access
        };
        let concrete = op
            .path
            .replace("{id}", &some_id)
            .replace("{userId}", &some_id);
        let label = format!("{} {}", op.method, op.path);
        let send = |path: String, body: Option<(&'static str, String)>| {
            let mut request = app.raw(op.method.clone(), &path).bearer_auth(token);
            if let Some((content_type, body)) = body {
                request = request.header("content-type", content_type).body(body);
            }
            app.send(request)
        };

        if op.path.contains('{') {
            let bad = op
                .path
                .replace("{id}", "not-a-uuid")
                .replace("{userId}", "1234");
            let res = send(bad, Some(("application/json", "{}".into()))).await;
            assert_client_error(&res, &format!("{label} with a bad id"));
        }

        for (name, kind) in &op.query {
            let bad_value = match kind.as_str() {
                "integer" => "abc",
                "boolean" => "maybe",
                _ if name == "cursor" => "%25%25not-a-cursor",
                _ => continue,
            };
            let sep = if concrete.contains('?') { '&' } else { '?' };
            let res = send(format!("{concrete}{sep}{name}={bad_value}"), None).await;
            assert_client_error(&res, &format!("{label} with {name}={bad_value}"));
        }

        let Some(schema) = &op.body_schema else {
            continue;
        };
        let json_body = |text: &str| Some(("application/json", text.to_owned()));
        for text in [
            "{bad", "", "[]", "null", "42", "\"text\"", "{\"a\":", "\u{0}",
        ] {
            let res = send(concrete.clone(), json_body(text)).await;
            assert_client_error(&res, &format!("{label} with body {text:?}"));
        }
        let res = send(concrete.clone(), Some(("text/plain", "hello".into()))).await;
        assert_client_error(&res, &format!("{label} as text/plain"));
        let res = send(concrete.clone(), None).await;
        assert_client_error(&res, &format!("{label} without a body"));
        let oversize = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
        let res = send(concrete.clone(), json_body(&oversize)).await;
        if op.multipart {
            // Not a form at all; an oversize form is cut off while it
            // streams (tests/api/files/rules.rs).
            assert_eq!(res.status.as_u16(), 415, "{label} as JSON: {}", res.body);
            let form = Some((
                "multipart/form-data; boundary=zz",
                "--zz\r\nbroken".to_owned(),
            ));
            let res = send(concrete.clone(), form).await;
            assert_client_error(&res, &format!("{label} with a broken form"));
            continue;
        }
        assert_eq!(res.status.as_u16(), 413, "{label} oversize: {}", res.body);

        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (field, field_schema) in &properties {
            let mut body = Map::new();
            body.insert(field.clone(), wrong_value(&resolve(&spec, field_schema)));
            let res = send(
                concrete.clone(),
                json_body(&Value::Object(body).to_string()),
            )
            .await;
            assert_client_error(&res, &format!("{label} with {field} of the wrong type"));
        }
        if schema["required"].as_array().is_some_and(|r| !r.is_empty()) {
            let res = send(concrete.clone(), json_body("{}")).await;
            assert_client_error(&res, &format!("{label} with required fields missing"));
        }
    }
}

#[tokio::test]
async fn strings_with_odd_unicode_and_huge_numbers_never_cause_a_500() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let odd = [
        "\u{202e}evil",
        "😀".repeat(200).as_str(),
        "a\u{0}b",
        "' OR 1=1 --",
        "%_\\",
    ]
    .map(str::to_owned);
    for text in &odd {
        let res = app
            .post(
                "/api/participants",
                Some(&admin.access),
                json!({ "type": "user", "name": text, "email": text }),
            )
            .await;
        assert!(
            res.status.is_client_error(),
            "{text:?}: {} {}",
            res.status,
            res.body
        );
        let q = urlencode(text);
        let res = app.get(&format!("/api/users?q={q}"), &admin.access).await;
        assert!(res.status.is_success(), "{text:?}: {}", res.body);
    }
    let res = app
        .get("/api/users?limit=99999999999999999999", &admin.access)
        .await;
    assert_client_error(&res, "a limit beyond u32");
}

fn urlencode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

//! The published contract: the spec served at `/api/openapi.json`, shown by
//! the docs UI at `/api/docs`, and committed as `openapi/openapi.json`.
//!
//! poem-openapi generates it from the operations; two rules are applied on
//! top, so the spec describes exactly what the server answers:
//! - **An optional field is nullable.** A property that is not `required`
//!   is sent as `null` when it has no value (responses keep every key, as
//!   the seeds' clients expect), and `null` is accepted for it in requests.
//!   poem-openapi does not mark `Option` fields `nullable`, so
//!   `nullable_optionals` does, for every schema.
//! - **Backend1's direct paths** are listed as deprecated copies of their
//!   `/api` twins ([`super::direct_paths`]).

use serde_json::{Value, json};

use super::{direct_paths, service};

/// The spec (pretty JSON + newline).
pub fn spec_json() -> String {
    let mut spec: Value =
        serde_json::from_str(&service().spec()).expect("poem-openapi writes valid JSON");
    nullable_optionals(&mut spec);
    direct_paths::add_to_spec(&mut spec);
    let mut json = serde_json::to_string_pretty(&spec).expect("a JSON value serializes");
    json.push('\n');
    json
}

/// The docs UI (Swagger UI) showing [`spec_json`].
pub fn docs_html() -> String {
    let service = service();
    service
        .swagger_ui_html()
        .replace(&service.spec(), spec_json().trim_end())
}

/// Marks every property that a schema does not require as nullable.
fn nullable_optionals(spec: &mut Value) {
    let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for schema in schemas.values_mut() {
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (name, property) in properties.iter_mut() {
            if !required.contains(name) {
                make_nullable(property);
            }
        }
    }
}

/// OpenAPI 3.0 ignores the siblings of a `$ref`, so a reference becomes
/// `allOf: [ref]` beside `nullable`. A schema without a type (any JSON)
/// takes `null` already.
fn make_nullable(property: &mut Value) {
    let Some(fields) = property.as_object_mut() else {
        return;
    };
    if let Some(reference) = fields.remove("$ref") {
        fields.insert("allOf".into(), json!([{ "$ref": reference }]));
    }
    if fields.contains_key("type") || fields.contains_key("allOf") {
        fields.insert("nullable".into(), Value::Bool(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_become_nullable_and_required_ones_stay() {
        let mut spec = json!({ "components": { "schemas": { "View": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": { "type": "string" },
                "avatar": { "type": "string" },
                "last": { "$ref": "#/components/schemas/Msg" },
                "limit": { "allOf": [{ "$ref": "#/components/schemas/L" }], "description": "d" },
                "metadata": { "description": "any JSON" },
            },
        }}}});
        nullable_optionals(&mut spec);
        let p = &spec["components"]["schemas"]["View"]["properties"];
        assert!(p["id"].get("nullable").is_none());
        assert_eq!(p["avatar"], json!({ "type": "string", "nullable": true }));
        assert_eq!(
            p["last"],
            json!({ "allOf": [{ "$ref": "#/components/schemas/Msg" }], "nullable": true })
        );
        assert_eq!(p["limit"]["nullable"], true);
        assert_eq!(p["metadata"], json!({ "description": "any JSON" }));
    }

    #[test]
    fn the_spec_has_nullable_optionals_and_the_direct_paths() {
        let spec: Value = serde_json::from_str(&spec_json()).unwrap();
        let avatar = &spec["components"]["schemas"]["ParticipantView"]["properties"]["avatar"];
        assert_eq!(avatar["nullable"], true);
        assert_eq!(spec["paths"]["/users/me"]["patch"]["deprecated"], true);
    }
}

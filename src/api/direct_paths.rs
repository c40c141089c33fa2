//! The Flutter backend's (Backend1) direct paths: its apps call `/messages`,
//! `/conversations`, `/chat-requests`, `/contacts` and `/users` without the
//! `/api` prefix (seed 001: "All Backend1 endpoints: Direct paths").
//!
//! A direct path is the `/api` path it stands for, served by the same
//! handler: [`rewrite`] prefixes the request's path before routing, so the
//! authentication, policy checks, tenancy and answers are those of the
//! `/api` operation. [`add_to_spec`] lists every such path in the spec as a
//! deprecated copy of its `/api` twin, so the published contract names
//! exactly what the server answers. (The `/auth/*` aliases predate this and
//! are operations of their own in `aliases`.)

use poem::Request;
use serde_json::Value;

/// The resources Backend1 called without `/api`; every `/api` path under
/// them answers at the direct path too.
pub const RESOURCES: [&str; 7] = [
    "/messages",
    "/files",
    "/notifications",
    "/conversations",
    "/chat-requests",
    "/contacts",
    "/users",
];

/// True when `path` is a direct path: one of [`RESOURCES`] or below it.
pub fn is_direct(path: &str) -> bool {
    RESOURCES.iter().any(|resource| {
        path.strip_prefix(resource)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Routes a direct path to its `/api` twin by prefixing the request's URI.
pub fn rewrite(req: &mut Request) {
    if !is_direct(req.uri().path()) {
        return;
    }
    let Some(path_and_query) = req.uri().path_and_query() else {
        return;
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = format!("/api{path_and_query}").parse().ok();
    if let Ok(uri) = poem::http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// Adds each direct path to the spec (`paths`) as a copy of its `/api` twin,
/// every operation marked deprecated and summarised as "Same as ...".
pub fn add_to_spec(spec: &mut Value) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let direct: Vec<(String, Value)> = paths
        .iter()
        .filter_map(|(path, item)| {
            let bare = path.strip_prefix("/api")?;
            is_direct(bare).then(|| (bare.to_owned(), deprecated_copy(path, item)))
        })
        .collect();
    paths.extend(direct);
}

fn deprecated_copy(api_path: &str, item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(operations) = item.as_object_mut() {
        for (method, operation) in operations.iter_mut() {
            let Some(operation) = operation.as_object_mut() else {
                continue;
            };
            let summary = format!("Same as `{} {api_path}`", method.to_uppercase());
            // The twin's summary leads its description, which follows.
            let original = [operation.remove("summary"), operation.remove("description")]
                .into_iter()
                .flatten()
                .filter_map(|text| text.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
                .join("\n\n");
            if !original.is_empty() {
                operation.insert("description".into(), Value::String(original));
            }
            operation.insert("summary".into(), Value::String(summary));
            operation.insert("deprecated".into(), Value::Bool(true));
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_paths_are_the_five_resources_and_what_is_below_them() {
        for path in [
            "/messages",
            "/messages/search",
            "/conversations/abc/messages",
            "/chat-requests/x/accept",
            "/contacts/sync",
            "/users",
            "/users/profile/u1",
        ] {
            assert!(is_direct(path), "{path}");
        }
        for path in [
            "/",
            "/api/users",
            "/usersx",
            "/messagesearch",
            "/auth/login",
            "/presence",
            "/console",
        ] {
            assert!(!is_direct(path), "{path}");
        }
    }

    #[test]
    fn a_direct_request_is_routed_to_its_api_twin_with_its_query() {
        let mut req = Request::builder()
            .uri("/users/search?q=ab&limit=2".parse().unwrap())
            .finish();
        rewrite(&mut req);
        assert_eq!(req.uri().path(), "/api/users/search");
        assert_eq!(req.uri().query(), Some("q=ab&limit=2"));

        let mut other = Request::builder().uri("/health".parse().unwrap()).finish();
        rewrite(&mut other);
        assert_eq!(other.uri().path(), "/health");
    }

    #[test]
    fn the_spec_copy_is_deprecated_and_points_at_its_twin() {
        let mut spec = serde_json::json!({"paths": {
            "/api/users/me": {"patch": {"summary": "Update my profile", "description": "Absent fields stay.", "tags": ["Users"]}},
            "/api/settings": {"get": {"summary": "Settings"}},
        }});
        add_to_spec(&mut spec);
        let copy = &spec["paths"]["/users/me"]["patch"];
        assert_eq!(copy["deprecated"], true);
        assert_eq!(copy["summary"], "Same as `PATCH /api/users/me`");
        assert_eq!(
            copy["description"],
            "Update my profile\n\nAbsent fields stay."
        );
        assert_eq!(copy["tags"][0], "Users");
        assert!(spec["paths"].get("/settings").is_none());
        assert!(
            spec["paths"]["/api/users/me"]["patch"]
                .get("deprecated")
                .is_none()
        );
    }
}

//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document that names every
//! route the chat, agent and reports APIs serve (and nothing they do not),
//! says which need a sign-in, and passes `openapi-spec-validator`.

use crate::support::TestGateway;
use serde_json::Value;
use std::collections::BTreeSet;

#[tokio::test]
async fn the_api_document_names_every_route_and_validates() {
    let gw = TestGateway::start().await;
    let r = gw
        .http
        .get(gw.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let document: Value = r.json().await.expect("JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        document["openapi"]
    );

    let served: BTreeSet<(String, String)> = frontdesk::http::api_routes()
        .into_iter()
        .map(|(method, path)| (method.as_str().to_lowercase(), path))
        .collect();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            documented.insert((method.clone(), path.clone()));
            let open = path == "/api/v1/agent/login"
                || !(path.starts_with("/api/v1/agent") || path.starts_with("/api/v1/reports"));
            let security = operation["security"].as_array();
            let needs_sign_in =
                security.is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            assert_eq!(
                needs_sign_in, !open,
                "{method} {path}: security {security:?}"
            );
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
        }
    }
    assert!(served.len() >= 30, "{served:?}");
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in the document: {undocumented:?}"
    );
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(
        phantom.is_empty(),
        "in the document but not served: {phantom:?}"
    );

    // Every documented route answers something other than the router's
    // own 404 (a path typo would).
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "01a23797-1e75-7630-8c2b-b2dab216d9f2")
            .replace("{hash}", "h")
            .replace("{name}", "n")
            .replace("{username}", "u");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let r = gw
            .http
            .request(method.clone(), gw.url(&concrete))
            .send()
            .await
            .expect("request");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            body["error"] != "not_found",
            "{method} {concrete}: {status} {body}"
        );
    }

    // The document is valid OpenAPI, as a separate validator reads it.
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), serde_json::to_vec(&document).expect("encode")).expect("write");
    let checked = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))",
        ])
        .arg(file.path())
        .output()
        .expect("run python3 (tests/run.sh installs openapi-spec-validator)");
    assert!(
        checked.status.success(),
        "openapi-spec-validator: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

//! The read-only Cloudflare integration: GET-only, valid OpenAPI 3, and what
//! `provision openapi-slice` generates from the fixture.

use std::path::PathBuf;

use serde_json::Value;

use crate::spec;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(provision::slice::OUTPUT)
}

fn committed() -> (String, Value) {
    let text = std::fs::read_to_string(committed_path()).expect("the slice is committed");
    let doc = serde_json::from_str(&text).expect("the slice is JSON");
    (text, doc)
}

#[test]
fn the_slice_is_read_only_openapi_3() {
    let (text, doc) = committed();
    assert!(text.len() < 2 * 1024 * 1024, "{} bytes", text.len());
    let problems = provision::slice::check(&doc);
    assert!(problems.is_empty(), "{problems:#?}");
    let paths = doc["paths"].as_object().expect("paths");
    assert_eq!(paths.len(), provision::slice::PATHS.len());
    for (path, item) in paths {
        let methods: Vec<&String> = item
            .as_object()
            .expect("path item")
            .keys()
            .filter(|k| *k != "parameters")
            .collect();
        assert_eq!(methods, vec!["get"], "{path}");
        let op = &item["get"];
        assert!(op["operationId"].is_string(), "{path} has an operationId");
        assert!(op["responses"].is_object(), "{path} has responses");
    }
    assert!(doc["servers"][0]["url"]
        .as_str()
        .unwrap_or_default()
        .starts_with("https://api.cloudflare.com/"));
    // Nothing that reads code, secrets or stored data.
    for needle in ["/content", "/secrets", "/objects"] {
        assert!(!paths.keys().any(|p| p.contains(needle)), "{needle}");
    }
}

#[test]
fn the_slice_is_what_the_generator_makes_from_the_fixture() {
    let Some(full) = spec::document() else {
        eprintln!("skipped: no OpenAPI fixture");
        return;
    };
    let fresh = provision::slice::slice(full).expect("slice");
    let (_, committed) = committed();
    assert!(
        fresh == committed,
        "integrations/cloudflare-readonly.openapi.json is stale: run `cargo run -p provision -- openapi-slice`"
    );
    // Every operation of the slice is a GET of the full document.
    for path in fresh["paths"].as_object().expect("paths").keys() {
        let concrete = path.replace('{', "x").replace('}', "");
        let matched = full
            .find("GET", &concrete)
            .expect("operation in the full document");
        assert_eq!(&matched.template, path);
    }
}

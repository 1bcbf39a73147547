//! Golden tests over the shared fixtures (`../shared/fixtures/openapi`) and the recorded wire
//! examples (`../shared/reference/wire-examples`), which sit beside the repository.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::*;
use crate::test_support::{gunzip_shared as gunzip, read_shared, wire};

fn petstore() -> OpenApiDocument {
    parse(read_shared("fixtures/openapi/petstore.openapi.json")).unwrap()
}

/// The big specs' derivations, computed once per test binary (they are slow in debug builds).
struct Derived {
    tools: Vec<ToolDefinition>,
    templates: Vec<AuthTemplate>,
    preview: SpecPreview,
    defs: String,
}

fn derive_fixture(file: &str) -> Derived {
    let doc = parse(gunzip(&format!("fixtures/openapi/{file}"))).unwrap();
    Derived {
        tools: derive_all_tools(&doc),
        templates: derive_auth_templates(&doc),
        preview: preview(&doc),
        defs: defs_blob(&doc),
    }
}

fn github() -> &'static Derived {
    static CELL: OnceLock<Derived> = OnceLock::new();
    CELL.get_or_init(|| derive_fixture("github-api.openapi.json.gz"))
}

fn cloudflare() -> &'static Derived {
    static CELL: OnceLock<Derived> = OnceLock::new();
    CELL.get_or_init(|| derive_fixture("cloudflare-api.openapi.json.gz"))
}

fn names(tools: &[ToolDefinition]) -> Vec<&str> {
    tools.iter().map(|t| t.name.as_str()).collect()
}

fn tool<'a>(tools: &'a [ToolDefinition], name: &str) -> &'a ToolDefinition {
    tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
}

#[test]
fn petstore_preview_matches_wire_08() {
    let exchange = wire("08-openapi-preview-petstore.json");
    let spec = exchange["request"]["body"]["spec"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = parse(spec).unwrap();
    assert_eq!(
        serde_json::to_value(preview(&doc)).unwrap(),
        exchange["response"]["body"]
    );
}

#[test]
fn petstore_tools_match_wire_25_and_28() {
    let doc = petstore();
    let tools = derive_all_tools(&doc);
    assert_eq!(plan_tools(&doc).len(), 5);
    let listed = wire("25-tools-list-petstore.json");
    let expected: Vec<Value> = listed["response"]["body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            json!({"name": t["name"], "description": t["description"],
                   "requiresApproval": t["requiresApproval"], "approvalDescription": t["approvalDescription"]})
        })
        .collect();
    let actual: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({"name": t.name, "description": t.description,
                   "requiresApproval": t.annotations.requires_approval,
                   "approvalDescription": t.annotations.approval_description})
        })
        .collect();
    assert_eq!(actual, expected);

    let schema = wire("28-tools-schema-getPet.json");
    let body = &schema["response"]["body"];
    let get_pet = tool(&tools, "pets.getPet");
    assert_eq!(get_pet.input_schema.as_ref(), Some(&body["inputSchema"]));
    assert_eq!(get_pet.output_schema.as_ref(), Some(&body["outputSchema"]));
    let defs = defs_blob(&doc);
    let closure = defs_closure(&defs, &[get_pet.output_schema.as_ref().unwrap()]);
    assert_eq!(Value::Object(closure), body["schemaDefinitions"]);
}

#[test]
fn petstore_bodies_bindings_and_auth() {
    let doc = petstore();
    let tools = derive_all_tools(&doc);
    let create = tool(&tools, "pets.createPet");
    assert_eq!(
        create.input_schema,
        Some(
            json!({"type": "object", "properties": {"body": {"$ref": "#/$defs/NewPet"}},
                    "required": ["body"], "additionalProperties": false})
        )
    );
    assert_eq!(
        serde_json::to_value(&create.binding).unwrap(),
        json!({"method": "post", "pathTemplate": "/pets",
               "servers": [{"url": "http://127.0.0.1:8901"}],
               "requestBody": {"required": true, "mediaTypes": [{"mediaType": "application/json"}]},
               "responseBody": {"status": "201", "mediaType": "application/json"}})
    );
    let list = tool(&tools, "pets.listPets");
    assert_eq!(
        list.input_schema,
        Some(json!({"type": "object", "properties": {
            "limit": {"type": "integer", "format": "int32"}, "tag": {"type": "string"}},
            "additionalProperties": false}))
    );
    assert_eq!(
        list.output_schema,
        Some(json!({"type": "array", "items": {"$ref": "#/$defs/Pet"}}))
    );
    let delete = tool(&tools, "pets.deletePet");
    assert!(delete.output_schema.is_none());
    assert!(delete.binding.response_body.is_none());
    assert!(tool(&tools, "store.getInventory").input_schema.is_none());

    // Wire 18 (stored form) and wire 14 (projection).
    let templates = derive_auth_templates(&doc);
    let stored = wire("18-openapi-config-petstore.json");
    assert_eq!(
        serde_json::to_value(&templates).unwrap(),
        stored["response"]["body"]["authenticationTemplate"]
    );
    let listed = wire("14-integrations-list-after-add.json");
    let petstore_entry = listed["response"]["body"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["slug"] == "petstore")
        .unwrap()
        .clone();
    assert_eq!(
        serde_json::to_value(auth_method_descriptors(&templates)).unwrap(),
        petstore_entry["authMethods"]
    );
    assert_eq!(
        derived_base_url(&doc).as_deref(),
        Some("http://127.0.0.1:8901")
    );
    assert_eq!(info(&doc).title.as_deref(), Some("Tiny Petstore"));
}

/// Value ⇒ YAML text through yaml-rust2's emitter (test helper).
fn to_yaml(value: &Value) -> String {
    use yaml_rust2::yaml::{Hash, Yaml};
    fn convert(value: &Value) -> Yaml {
        match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Boolean(*b),
            Value::Number(n) if n.is_i64() => Yaml::Integer(n.as_i64().unwrap()),
            Value::Number(n) => Yaml::Real(n.to_string()),
            Value::String(s) => Yaml::String(s.clone()),
            Value::Array(items) => Yaml::Array(items.iter().map(convert).collect()),
            Value::Object(map) => {
                let mut hash = Hash::new();
                for (k, v) in map {
                    hash.insert(Yaml::String(k.clone()), convert(v));
                }
                Yaml::Hash(hash)
            }
        }
    }
    let mut out = String::new();
    yaml_rust2::YamlEmitter::new(&mut out)
        .dump(&convert(value))
        .unwrap();
    out
}

#[test]
fn yaml_petstore_derives_the_same_tools() {
    let json_text = read_shared("fixtures/openapi/petstore.openapi.json");
    let value: Value = serde_json::from_str(&json_text).unwrap();
    let yaml_text = to_yaml(&value);
    assert!(yaml_text.contains("openapi: 3.0.3"), "{yaml_text}");
    let from_yaml = parse(yaml_text).unwrap();
    assert!(from_yaml.was_yaml());
    let from_json = petstore();
    assert_eq!(derive_all_tools(&from_yaml), derive_all_tools(&from_json));
    assert_eq!(preview(&from_yaml), preview(&from_json));
    assert_eq!(
        derive_auth_templates(&from_yaml),
        derive_auth_templates(&from_json)
    );
    let blob: Value = serde_json::from_str(&defs_blob(&from_yaml)).unwrap();
    assert_eq!(
        blob,
        serde_json::from_str::<Value>(&defs_blob(&from_json)).unwrap()
    );

    // Mangled YAML is an error or a document, never a panic.
    let yaml_text = to_yaml(&value);
    let mut seed: u32 = 11;
    for _ in 0..300 {
        let mut bytes = yaml_text.as_bytes().to_vec();
        for _ in 0..6 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let at = (seed as usize) % bytes.len();
            let noise = b"{}[]\":,&*!|>-? \n\t'#%@";
            bytes[at] = noise[(seed >> 16) as usize % noise.len()];
        }
        if let Ok(text) = String::from_utf8(bytes) {
            if let Ok(doc) = parse(text) {
                derive_all_tools(&doc);
                preview(&doc);
            }
        }
    }
}

#[test]
fn malformed_inputs_are_typed_errors() {
    let spec = read_shared("fixtures/openapi/petstore.openapi.json");
    // Every prefix of a valid document is an error or a document, never a panic.
    for cut in (0..spec.len()).step_by(37) {
        let Some(prefix) = spec.get(..cut) else {
            continue;
        };
        match parse(prefix.to_owned()) {
            Ok(doc) => {
                derive_all_tools(&doc);
            }
            Err(e) => assert!(!e.message().is_empty()),
        }
    }
    // Byte-level noise.
    let mut seed: u32 = 7;
    for _ in 0..300 {
        let mut bytes = spec.as_bytes().to_vec();
        for _ in 0..8 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let at = (seed as usize) % bytes.len();
            bytes[at] = b"{}[]\":,&*!|-? \n"[(seed >> 16) as usize % 15];
        }
        if let Ok(text) = String::from_utf8(bytes) {
            if let Ok(doc) = parse(text) {
                derive_all_tools(&doc);
                defs_blob(&doc);
                preview(&doc);
                derive_auth_templates(&doc);
            }
        }
    }
    let swagger = parse(r#"{"swagger": "2.0", "info": {}, "paths": {}}"#.to_owned()).unwrap_err();
    assert_eq!(swagger.tag(), "OpenApiExtractionError");
    let yaml_swagger = parse("swagger: '2.0'\npaths: {}\n".to_owned()).unwrap_err();
    assert_eq!(yaml_swagger.tag(), "OpenApiExtractionError");
    let broken = parse("{not json".to_owned()).unwrap_err();
    assert_eq!(broken.tag(), "OpenApiParseError");
    assert!(broken.message().starts_with(PARSE_PREFIX));
}

#[test]
fn github_spec() {
    let derived = github();
    assert_eq!(derived.tools.len(), 1223);
    let names = names(&derived.tools);
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    assert_eq!(names, sorted, "sorted by name");
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "unique");
    for expected in [
        "meta.root",
        "issues.listForRepo",
        "issues.create",
        "issues.createComment",
        "repos.get",
        "repos.getContent",
        "repos.listForOrg",
        "pulls.merge",
        "users.getAuthenticated",
    ] {
        assert!(names.contains(&expected), "missing {expected}");
    }
    let get_repo = tool(&derived.tools, "repos.get");
    assert_eq!(get_repo.binding.path_template, "/repos/{owner}/{repo}");
    assert_eq!(get_repo.binding.servers[0].url, "https://api.github.com");
    let input = get_repo.input_schema.as_ref().unwrap();
    assert_eq!(input["required"], json!(["owner", "repo"]));
    assert_eq!(
        get_repo.output_schema,
        Some(json!({"$ref": "#/$defs/full-repository"}))
    );

    let create_issue = tool(&derived.tools, "issues.create");
    assert_eq!(create_issue.annotations.requires_approval, Some(true));
    assert_eq!(
        create_issue.annotations.approval_description.as_deref(),
        Some("POST /repos/{owner}/{repo}/issues")
    );
    let body = &create_issue.input_schema.as_ref().unwrap()["properties"]["body"];
    assert_eq!(body["required"], json!(["title"]));

    // No OpenAPI security schemes in GitHub's description ⇒ no derived auth.
    assert!(derived.templates.is_empty());
    assert_eq!(derived.preview.operation_count, 1223);

    let index = DefsIndex::new(&derived.defs).unwrap();
    assert_eq!(index.len(), 969);
    let closure = index.closure(&[get_repo.output_schema.as_ref().unwrap()]);
    assert!(closure.contains_key("full-repository") && closure.contains_key("simple-user"));
    // Every referenced definition exists.
    for tool in &derived.tools {
        let schemas: Vec<&Value> = tool
            .input_schema
            .iter()
            .chain(tool.output_schema.iter())
            .collect();
        for schema in &schemas {
            assert!(
                !schema.to_string().contains("#/components/schemas/"),
                "{}",
                tool.name
            );
        }
        let bytes = serde_json::to_string(&tool.binding).unwrap().len();
        assert!(bytes < 4096, "{}: binding of {bytes} bytes", tool.name);
    }
}

#[test]
fn cloudflare_spec() {
    let derived = cloudflare();
    assert_eq!(derived.tools.len(), 3207);
    let names = names(&derived.tools);
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    assert!(names
        .iter()
        .all(|n| !n.is_empty() && !n.starts_with('.') && !n.ends_with('.')));
    let list_zones = derived
        .tools
        .iter()
        .find(|t| t.binding.path_template == "/zones" && t.binding.method == HttpMethod::Get)
        .unwrap();
    assert_eq!(
        list_zones.binding.servers[0].url,
        "https://api.cloudflare.com/client/v4"
    );
    assert!(list_zones.annotations.requires_approval.is_none());

    // security: [{api_email, api_key}, {api_token}, {user_service_key}].
    assert_eq!(
        serde_json::to_value(&derived.preview.auth_strategies).unwrap(),
        json!([{"schemes": ["api_email", "api_key"]}, {"schemes": ["api_token"]}, {"schemes": ["user_service_key"]}])
    );
    assert_eq!(
        serde_json::to_value(auth_method_descriptors(&derived.templates)).unwrap(),
        json!([
            {"id": "apikey-0", "label": "API key (X-Auth-Email)", "kind": "apikey", "template": "apikey-0",
             "placements": [{"carrier": "header", "name": "X-Auth-Email", "prefix": ""},
                            {"carrier": "header", "name": "X-Auth-Key", "prefix": ""}]},
            {"id": "apikey-1", "label": "API key (Authorization)", "kind": "apikey", "template": "apikey-1",
             "placements": [{"carrier": "header", "name": "Authorization", "prefix": "Bearer "}]},
            {"id": "apikey-2", "label": "API key (X-Auth-User-Service-Key)", "kind": "apikey", "template": "apikey-2",
             "placements": [{"carrier": "header", "name": "X-Auth-User-Service-Key", "prefix": ""}]}
        ])
    );
    let index = DefsIndex::new(&derived.defs).unwrap();
    assert_eq!(index.len(), 6743);
    for tool in &derived.tools {
        let bytes = serde_json::to_string(&tool.binding).unwrap().len();
        assert!(bytes < 4096, "{}: binding of {bytes} bytes", tool.name);
    }
}

#[test]
fn derivation_is_deterministic() {
    let text = gunzip("fixtures/openapi/github-api.openapi.json.gz");
    let doc = parse(text).unwrap();
    let mut first = Vec::new();
    derive_tools(&doc, |t| first.push(serde_json::to_string(&t).unwrap()));
    let mut i = 0;
    derive_tools(&doc, |t| {
        assert_eq!(serde_json::to_string(&t).unwrap(), first[i]);
        i += 1;
    });
    assert_eq!(i, first.len());
    assert_eq!(defs_blob(&doc), github().defs);
}

/// The curated read-only Cloudflare slice that `provision openapi-slice` generates adds as an
/// integration: it parses, derives tools, and none of them writes or needs approval.
#[test]
fn cloudflare_readonly_slice_adds_cleanly() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("integrations/cloudflare-readonly.openapi.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = parse(text).unwrap();
    let tools = derive_all_tools(&doc);
    assert!(tools.len() >= 10, "{} tools", tools.len());
    for tool in &tools {
        assert_eq!(
            tool.binding.method,
            naming::HttpMethod::Get,
            "{}",
            tool.name
        );
        assert_ne!(
            tool.annotations.requires_approval,
            Some(true),
            "{}",
            tool.name
        );
    }
    assert!(
        !derive_auth_templates(&doc).is_empty(),
        "the slice declares how to authenticate"
    );
}

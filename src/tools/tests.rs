//! Golden tests against the recorded wire examples and the shared OpenAPI fixtures
//! (`../shared`, beside the repository), plus timings on the GitHub catalog.

#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::*;
use crate::plugins::openapi::{defs_blob, derive_all_tools, parse, DefsIndex, ToolDefinition};
use crate::test_support::{gunzip_shared as gunzip, read_shared, wire};

fn wire_result(name: &str) -> Value {
    wire(name)["response"]["body"]["result"]["structuredContent"]["result"].clone()
}

struct Catalog {
    tools: Vec<ToolDefinition>,
    defs: String,
    index: SearchIndex,
}

fn catalog(integration: &str, text: String) -> Catalog {
    let doc = parse(text).unwrap();
    let tools = derive_all_tools(&doc);
    let defs = defs_blob(&doc);
    let index = SearchIndex::new(
        tools
            .iter()
            .map(|t| ToolEntry {
                path: format!("{integration}.org.main.{}", t.name),
                name: t.name.clone(),
                description: Some(t.description.clone()).filter(|d| !d.is_empty()),
                integration: integration.to_owned(),
            })
            .collect(),
    );
    Catalog { tools, defs, index }
}

fn petstore() -> &'static Catalog {
    static CELL: OnceLock<Catalog> = OnceLock::new();
    CELL.get_or_init(|| {
        catalog(
            "petstore",
            read_shared("fixtures/openapi/petstore.openapi.json"),
        )
    })
}

fn github() -> &'static Catalog {
    static CELL: OnceLock<Catalog> = OnceLock::new();
    CELL.get_or_init(|| {
        catalog(
            "github",
            gunzip("fixtures/openapi/github-api.openapi.json.gz"),
        )
    })
}

fn request(args: Value) -> SearchRequest {
    SearchRequest::from_args(&args).unwrap()
}

fn describe_in(catalog: &Catalog, name: &str) -> DescribeResult {
    let tool = catalog.tools.iter().find(|t| t.name == name).unwrap();
    let index = DefsIndex::new(&catalog.defs).unwrap();
    let schemas: Vec<&Value> = tool
        .input_schema
        .iter()
        .chain(tool.output_schema.iter())
        .collect();
    let defs = index.closure(&schemas);
    let path = format!("x.org.main.{name}");
    describe_tool(&ToolSchemas {
        path: &path,
        name: &tool.name,
        description: Some(&tool.description),
        input_schema: tool.input_schema.as_ref(),
        output_schema: tool.output_schema.as_ref(),
        defs: &defs,
    })
}

// ---------------------------------------------------------------------------------------------
// Search

#[test]
fn normalisation() {
    assert_eq!(
        normalize("petstore.org.main.pets.listPets"),
        "petstore org main pets list pets"
    );
    assert_eq!(
        normalize("  getHTTPServer_v2:x-y/z  "),
        "get http server v2 x y z"
    );
    assert_eq!(
        normalize("Returns pet inventories"),
        "returns pet inventories"
    );
}

/// The recorded sessions had a `block` policy on `petstore.*.*.pets.deletePet` (wire 30), so
/// the sandbox search hid it.
fn blocked(path: &str) -> bool {
    path.ends_with(".pets.deletePet")
}

#[test]
fn wire_48_search_pets() {
    let recorded = wire_result("48-mcp-call-execute-discover.json");
    let page = search_all(
        &[&petstore().index],
        &request(json!({"query": "pets", "limit": 10})),
        blocked,
    );
    assert_eq!(serde_json::to_value(&page).unwrap(), recorded["search"]);
    let scores: Vec<u32> = page.items.iter().map(|i| i.score).collect();
    assert_eq!(scores, [457, 417, 417, 255]);
}

#[test]
fn wire_83_namespace_paging() {
    let recorded = wire_result("83-mcp-call-execute-search-namespace.json");
    let page = search_all(
        &[&petstore().index],
        &request(json!({"namespace": "petstore", "query": "pet", "limit": 2})),
        blocked,
    );
    assert_eq!(serde_json::to_value(&page).unwrap(), recorded);

    let next = search_all(
        &[&petstore().index],
        &request(json!({"namespace": "petstore", "query": "pet", "limit": 2, "offset": 2})),
        blocked,
    );
    assert_eq!(next.items.len(), 2);
    assert_eq!(next.total, 4);
    assert!(!next.has_more);
    assert_eq!(next.next_offset, None);
    let beyond = petstore().index.search(&request(
        json!({"namespace": "petstore", "query": "pet", "offset": 99}),
    ));
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);
}

#[test]
fn namespace_filter_and_blank_queries() {
    let index = &petstore().index;
    // Another namespace hides everything.
    let page = index.search(&request(json!({"namespace": "github", "query": "pet"})));
    assert_eq!(page.total, 0);
    // Namespace tokens must prefix the integration or the path.
    let page = index.search(&request(
        json!({"namespace": "petstore.org.main.store", "query": "pet"}),
    ));
    assert_eq!(page.total, 1);
    // Blank query: empty page; with a namespace it enumerates (by path).
    assert_eq!(
        index.search(&request(json!({"query": "   "}))),
        SearchPage::empty()
    );
    assert_eq!(index.search(&request(json!(null))), SearchPage::empty());
    let page = index.search(&request(json!({"namespace": "petstore", "limit": 3})));
    assert_eq!(page.total, 5);
    assert_eq!(page.next_offset, Some(3));
    assert_eq!(page.items[0].path, "petstore.org.main.pets.createPet");
    assert!(page.items.iter().all(|i| i.score == 0));
    // Excluded (blocked) tools disappear.
    let page = search_all(&[index], &request(json!({"query": "pets"})), |p| {
        p.ends_with("listPets")
    });
    assert_eq!(page.total, 4);
}

#[test]
fn search_argument_validation() {
    let err = |v: Value| SearchRequest::from_args(&v).unwrap_err();
    assert_eq!(err(json!("pets")), SearchArgsError::NotAnObject);
    assert_eq!(
        err(json!({"query": 1})),
        SearchArgsError::NotAString("query")
    );
    assert_eq!(
        err(json!({"namespace": []})),
        SearchArgsError::NotAString("namespace")
    );
    assert_eq!(err(json!({"limit": 0})), SearchArgsError::BadLimit);
    assert_eq!(err(json!({"limit": -1})), SearchArgsError::BadLimit);
    assert_eq!(err(json!({"limit": "3"})), SearchArgsError::BadLimit);
    assert_eq!(err(json!({"offset": -1})), SearchArgsError::BadOffset);
    assert_eq!(
        err(json!({"offset": -1})).to_string(),
        "tools.search: `offset` must be a non-negative integer"
    );
    let ok = request(json!({"query": "x", "limit": 3, "offset": 0}));
    assert_eq!((ok.limit, ok.offset), (3, 0));
    assert_eq!(request(json!({})).limit, DEFAULT_LIMIT);
}

#[test]
fn wire_26_27_list_query_is_a_substring_filter() {
    for (file, query) in [
        ("26-tools-search-pet.json", "pet"),
        ("27-tools-search-inventory.json", "inventory"),
    ] {
        let recorded: Vec<String> = wire(file)["response"]["body"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        let ours: Vec<String> = petstore()
            .tools
            .iter()
            .filter(|t| matches_list_query(&t.name, Some(&t.description), query))
            .map(|t| t.name.clone())
            .collect();
        assert_eq!(ours, recorded, "{file}");
    }
}

#[test]
fn stored_form_round_trips() {
    let index = &petstore().index;
    let bytes = index.to_bytes();
    let loaded = SearchIndex::from_bytes(&bytes).unwrap();
    assert_eq!(loaded.entries(), index.entries());
    let q = request(json!({"query": "pets"}));
    assert_eq!(loaded.search(&q), index.search(&q));
    assert!(SearchIndex::from_bytes(b"{").is_err());
}

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
fn github_quality_and_timing() {
    let index = &github().index;
    assert_eq!(index.len(), 1223);
    let top = |q: &str| index.search(&request(json!({"query": q, "limit": 5})));
    for q in ["create issue comment", "get a repository"] {
        let page = top(q);
        let shown: Vec<String> = page
            .items
            .iter()
            .map(|i| format!("{} ({})", i.name, i.score))
            .collect();
        println!("quality {q:?}: total {} → {}", page.total, shown.join(", "));
    }
    // The same leaders upstream's ranking produced (executor-behaviour.md §16).
    assert_eq!(
        top("create issue comment").items[0].name,
        "reactions.createForIssueComment"
    );
    assert_eq!(
        top("get a repository").items[0].name,
        "securityAdvisories.getRepositoryAdvisory"
    );

    let queries = [
        "create issue comment",
        "get a repository",
        "pull request review",
        "list workflow runs",
        "gist",
        "delete branch protection",
        "org members",
        "x",
        "actions secrets",
        "search code",
    ];
    let mut samples = Vec::new();
    for _ in 0..5 {
        for q in queries {
            let r = request(json!({"query": q, "limit": 10}));
            let start = Instant::now();
            let page = index.search(&r);
            samples.push(start.elapsed());
            std::hint::black_box(page);
        }
    }
    let max = samples.iter().max().copied().unwrap();
    println!(
        "search p50 {:?}, max {:?} over {} queries",
        p50(samples),
        max,
        queries.len() * 5
    );

    let bytes = index.to_bytes();
    let entries = index.entries().to_vec();
    let start = Instant::now();
    let rebuilt = SearchIndex::new(entries);
    println!("index build from entries (no JSON): {:?}", start.elapsed());
    let start = Instant::now();
    let mut chars = 0;
    for e in index.entries() {
        for f in [&e.path, &e.name, &e.integration] {
            chars += normalize(f).len();
        }
        chars += normalize(e.description.as_deref().unwrap_or_default()).len();
    }
    println!(
        "of which normalising: {:?} for {chars} bytes",
        start.elapsed()
    );
    assert_eq!(rebuilt.len(), 1223);
    let mut loads = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let loaded = SearchIndex::from_bytes(&bytes).unwrap();
        loads.push(start.elapsed());
        assert_eq!(loaded.len(), 1223);
    }
    println!(
        "stored index {} bytes ({} vocabulary tokens, ~{} bytes in memory); load p50 {:?}",
        bytes.len(),
        index.vocabulary_len(),
        index.heap_bytes(),
        p50(loads)
    );
}

// ---------------------------------------------------------------------------------------------
// Describe

#[test]
fn wire_48_describe_list_pets() {
    let recorded = wire_result("48-mcp-call-execute-discover.json");
    let mut result = describe_in(petstore(), "pets.listPets");
    result.path = "petstore.org.main.pets.listPets".to_owned();
    let text = result.to_json_string();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        recorded["describe"]
    );
    // Key order of the definitions, as recorded.
    let defs: Vec<&str> = result
        .type_script_definitions
        .as_ref()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(defs, ["Pet", "ToolError", "ToolHttpMeta", "ToolFile"]);
}

#[test]
fn describe_get_pet_and_wire_28_previews() {
    let result = describe_in(petstore(), "pets.getPet");
    assert_eq!(
        result.input_type_script.as_deref(),
        Some("{ petId: number; }")
    );
    assert_eq!(
        result.output_type_script.as_deref(),
        Some("{ ok: true; data: Pet; http?: ToolHttpMeta } | { ok: false; error: ToolError }")
    );
    let body = &wire("28-tools-schema-getPet.json")["response"]["body"];
    let defs = body["schemaDefinitions"].as_object().unwrap();
    let (input, output, ts_defs) = schema_previews(
        Some(&body["inputSchema"]),
        Some(&body["outputSchema"]),
        defs,
    );
    assert_eq!(input.as_deref(), body["inputTypeScript"].as_str());
    assert_eq!(output.as_deref(), body["outputTypeScript"].as_str());
    assert_eq!(
        ts_defs,
        [(
            "Pet".to_owned(),
            body["typeScriptDefinitions"]["Pet"]
                .as_str()
                .unwrap()
                .to_owned()
        )]
    );
}

#[test]
fn wire_81_not_found_with_suggestions() {
    let recorded = wire_result("81-mcp-call-execute-describe-missing.json");
    let path = "petstore.org.main.pets.getPett";
    let found = suggestions(&[&petstore().index], path, |_| false);
    let result = not_found(path, found);
    assert_eq!(serde_json::to_value(&result).unwrap(), recorded);
    // Nothing in the namespace: the search falls back to everything; nothing at all: no key.
    let found = suggestions(&[&petstore().index], "nowhere.getPet", |_| false);
    assert_eq!(found[0], "petstore.org.main.pets.getPet");
    assert!(found.len() <= MAX_SUGGESTIONS);
    let empty = not_found("zzz", Vec::new());
    assert_eq!(
        serde_json::to_value(&empty).unwrap(),
        json!({"path": "zzz", "name": "zzz", "error": {"code": "tool_not_found", "message": "Tool not found: zzz"}})
    );
}

#[test]
fn describe_argument_validation() {
    assert_eq!(describe_args(&json!({"path": "a.b"})).unwrap(), "a.b");
    assert_eq!(
        describe_args(&json!("a.b")),
        Err(DescribeArgsError::NotAnObject)
    );
    assert_eq!(describe_args(&json!({})), Err(DescribeArgsError::BadPath));
    assert_eq!(
        describe_args(&json!({"path": 3})),
        Err(DescribeArgsError::BadPath)
    );
    assert_eq!(
        describe_args(&json!({"path": "a.b", "includeSchemas": true})),
        Err(DescribeArgsError::IncludeSchemas)
    );
}

#[test]
fn typescript_rendering() {
    let defs = json!({
        "simple-user": {"type": "object", "properties": {"login": {"type": "string"}, "friend": {"$ref": "#/$defs/simple-user"}}, "required": ["login"]},
        "Kind": {"type": "string", "enum": ["a", "b"]}
    });
    let defs = defs.as_object().unwrap();
    let schema = json!({
        "type": "object",
        "required": ["id", "kind"],
        "properties": {
            "id": {"type": ["integer", "null"]},
            "kind": {"$ref": "#/$defs/Kind"},
            "owner": {"$ref": "#/$defs/simple-user", "nullable": true},
            "tags": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
            "x-y": {"allOf": [{"type": "object", "properties": {"a": {"type": "boolean"}}}, {"type": "object", "properties": {"b": {"const": 1}}}]},
            "meta": {"type": "object", "additionalProperties": {"type": "string"}},
            "any": {},
            "free": {"type": "object"},
            "missing": {"$ref": "#/$defs/Nope"}
        }
    });
    let (input, _, defs_out) = schema_previews(Some(&schema), None, defs);
    assert_eq!(
        input.unwrap(),
        "{ any?: unknown; free?: { [k: string]: unknown; }; id: number | null; kind: Kind; \
         meta?: { [k: string]: string; }; missing?: unknown; owner?: SimpleUser | null; \
         tags?: (string | number)[]; \"x-y\"?: { a?: boolean; } & { b?: 1; }; }"
    );
    assert_eq!(
        defs_out,
        [
            ("Kind".to_owned(), "\"a\" | \"b\"".to_owned()),
            (
                "SimpleUser".to_owned(),
                "{ friend?: SimpleUser; login: string; }".to_owned()
            ),
        ]
    );
    assert_eq!(type_name("9lives"), "_9lives");

    // Deep nesting stays bounded.
    let mut deep = json!({"type": "string"});
    for _ in 0..100 {
        deep = json!({"type": "array", "items": deep});
    }
    let (input, _, _) = schema_previews(Some(&deep), None, &Map::new());
    assert!(input.unwrap().contains("unknown"));
}

#[test]
fn github_describe_timing() {
    let gh = github();
    let index = DefsIndex::new(&gh.defs).unwrap();
    let size = |t: &ToolDefinition| {
        let schemas: Vec<&Value> = t
            .input_schema
            .iter()
            .chain(t.output_schema.iter())
            .collect();
        index
            .closure(&schemas)
            .values()
            .chain(schemas.iter().copied())
            .map(|v| v.to_string().len())
            .sum::<usize>()
    };
    let biggest = gh.tools.iter().max_by_key(|t| size(t)).unwrap();
    println!(
        "biggest GitHub tool: {} ({} schema bytes with $defs)",
        biggest.name,
        size(biggest)
    );
    for name in ["repos.get", biggest.name.as_str()] {
        let tool = gh.tools.iter().find(|t| t.name == name).unwrap();
        let schemas: Vec<&Value> = tool
            .input_schema
            .iter()
            .chain(tool.output_schema.iter())
            .collect();
        let start = Instant::now();
        let defs = index.closure(&schemas);
        let closure_time = start.elapsed();
        let mut samples = Vec::new();
        let mut result = DescribeResult::default();
        for _ in 0..10 {
            let start = Instant::now();
            result = describe_tool(&ToolSchemas {
                path: name,
                name,
                description: Some(&tool.description),
                input_schema: tool.input_schema.as_ref(),
                output_schema: tool.output_schema.as_ref(),
                defs: &defs,
            });
            let text = result.to_json_string();
            samples.push(start.elapsed());
            std::hint::black_box(text);
        }
        let text = result.to_json_string();
        println!(
            "describe {name}: p50 {:?} (closure of {} defs from the blob: {closure_time:?}); \
             result {} bytes, {} definitions",
            p50(samples),
            defs.len(),
            text.len(),
            result.type_script_definitions.as_ref().map_or(0, Vec::len)
        );
        assert!(result
            .output_type_script
            .unwrap()
            .starts_with("{ ok: true; data: "));
    }
    let repo = describe_in(gh, "repos.get");
    println!("repos.get output: {}", repo.output_type_script.unwrap());
}

#[test]
fn builtin_descriptions() {
    for path in ["search", "tools.describe.tool", "executor.sources.list"] {
        let result = describe_builtin(path).unwrap();
        assert!(result.description.is_some() && result.input_type_script.is_some());
        assert!(!result.path.starts_with("tools."));
    }
    assert!(describe_builtin("petstore.org.main.pets.getPet").is_none());
}

#[test]
fn github_create_comment_describes_its_body() {
    let r = describe_in(github(), "issues.createComment");
    let json = serde_json::to_value(&r).unwrap();
    let input = json["inputTypeScript"].as_str().unwrap_or_default();
    assert!(input.contains("issue_number"), "{input}");
    assert!(input.contains("body"), "{input}");
    assert!(json.get("error").is_none(), "{json}");
}

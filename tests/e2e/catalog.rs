//! The OpenAPI catalog on real workerd, against a loopback petstore stand-in
//! (`executor_tests::upstream`): add a spec by URL, connect it with an API key, list, search,
//! describe and call its tools over REST and MCP under policies, and check what reached the
//! upstream (method, path, query, the injected key, the JSON body — and nothing for calls that
//! fail validation or are blocked). A canary key must never show up in any answer, in
//! anything the Worker printed, or in plaintext in its local D1/R2 state.
//!
//! Expected wire: executor-behaviour.md §3.3–3.7, §3.9, §7.3, §8.1.5 and wire examples 08–29,
//! 40, 48–51, 54, 80, 81, 83, 91, 99, 106, 107.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use executor_tests::upstream::{Recorded, Upstream};
use serde_json::{json, Value};

use crate::mcp::initialize_body;
use crate::support::{client, enabled, start_with, Answer};

/// A random secret for a connection; the test asserts it never leaves the Worker except
/// towards the upstream.
pub fn canary() -> String {
    format!(
        "canary-{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

/// A file for the Worker's complete log output (outside the persist dir, which `stop` removes).
pub fn log_path(label: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "executor-e2e-{label}-{}-{:08x}.log",
        std::process::id(),
        rand::random::<u32>()
    ))
}

/// Prints `metric catalog.<name>=<value>` straight to stderr: libtest captures `eprintln!`
/// of passing tests, and these lines should be greppable in every run's log.
pub fn metric(name: &str, value: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "metric catalog.{name}={value}");
}

/// Calls `/api` and `/mcp` on one Worker and keeps every answer (status line aside: headers
/// and body) for the final canary scan.
pub struct Api {
    base: String,
    /// Sent with every request (e.g. an Access assertion).
    headers: Vec<(String, String)>,
    seen: Mutex<Vec<Vec<u8>>>,
}

impl Api {
    pub fn new(base: String) -> Api {
        Api::with_headers(base, &[])
    }

    /// An [`Api`] that sends `headers` with every request.
    pub fn with_headers(base: String, headers: &[(&str, &str)]) -> Api {
        Api {
            base,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            seen: Mutex::new(Vec::new()),
        }
    }

    fn keep(&self, answer: &Answer) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for (name, value) in &answer.headers {
            let mut line = name.as_str().as_bytes().to_vec();
            line.extend_from_slice(b": ");
            line.extend_from_slice(value.as_bytes());
            seen.push(line);
        }
        seen.push(answer.body.clone());
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut req = client().request(method, format!("{}{path}", self.base));
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = Answer::from(req.send().await.expect("request sent")).await;
        self.keep(&answer);
        answer
    }

    /// POSTs a pre-serialised JSON body (the big inline specs).
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Answer {
        let mut req = client()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        let answer = Answer::from(req.send().await.expect("request sent")).await;
        self.keep(&answer);
        answer
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send("POST", path, Some(body)).await
    }

    /// `POST /api/executions`; returns the whole envelope after checking the status.
    pub async fn execute(&self, code: &str, logs: &dyn Fn() -> String) -> Value {
        let answer = self.post("/api/executions", &json!({ "code": code })).await;
        assert_eq!(answer.status, 200, "{}\n{}", answer.text(), logs());
        answer.json()
    }

    pub async fn mcp(&self, session: Option<&str>, body: &Value) -> Answer {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let answer = crate::mcp::post_with(&self.base, session, body, &headers).await;
        self.keep(&answer);
        answer
    }

    /// Everything received so far, as one byte string per item.
    pub fn seen(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every regular file below `dir`.
fn files_below(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_below(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

/// Asserts `canary` appears in no answer `api` received and in no line of `log` (read after the
/// Worker stopped, so it is complete); returns the log text.
pub async fn assert_canary_absent(canary: &str, api: &Api, log: &Path) -> String {
    // The pipe readers drain wrangler's last lines just after the process group exits.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| {
        panic!("the Worker's log file {}: {e}", log.display());
    });
    let _ = std::fs::remove_file(log);
    assert!(
        text.lines().count() > 3,
        "the log file captured the Worker's output:\n{text}"
    );
    let leaked: Vec<&str> = text.lines().filter(|l| l.contains(canary)).collect();
    assert!(
        leaked.is_empty(),
        "the Worker logged the secret: {leaked:?}"
    );
    let answers = api.seen();
    assert!(!answers.is_empty());
    for answer in &answers {
        assert!(
            !contains(answer, canary.as_bytes()),
            "an answer carried the secret: {}",
            String::from_utf8_lossy(answer)
        );
    }
    eprintln!(
        "canary scan: {} answers ({} bytes), {} log lines: clean",
        answers.len(),
        answers.iter().map(Vec::len).sum::<usize>(),
        text.lines().count()
    );
    text
}

/// Asserts `canary` is stored nowhere in plaintext in the Worker's local state (D1 and R2).
pub fn assert_state_has_no_plaintext(canary: &str, persist_to: &Path) {
    let mut files = Vec::new();
    files_below(persist_to, &mut files);
    assert!(!files.is_empty(), "state under {}", persist_to.display());
    for file in files {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        assert!(
            !contains(&bytes, canary.as_bytes()),
            "{} holds the secret in plaintext",
            file.display()
        );
    }
}

/// The upstream requests after `mark` that are not spec fetches.
fn calls_since(upstream: &Upstream, mark: usize) -> Vec<Recorded> {
    upstream
        .requests_since(mark)
        .into_iter()
        .filter(|r| r.path != "/openapi.json")
        .collect()
}

fn assert_injected_key(call: &Recorded, canary: &str) {
    assert_eq!(call.header("x-api-key"), Some(canary), "{}", call.line());
    assert_eq!(
        call.header("user-agent"),
        Some("executor"),
        "{}",
        call.line()
    );
}

fn petstore_tool(name: &str, description: &str, approval: Option<&str>) -> Value {
    json!({
        "address": format!("tools.petstore.org.main.{name}"),
        "owner": "org",
        "integration": "petstore",
        "connection": "main",
        "name": name,
        "pluginId": "openapi",
        "description": description,
        "mayElicit": null,
        "requiresApproval": approval.map(|_| true),
        "approvalDescription": approval,
        "static": null
    })
}

/// `{ok: true, data, http}` with a 2xx status and the stand-in's response headers.
fn assert_ok(result: &Value, status: u16, data: &Value) {
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(&result["data"], data, "{result}");
    assert_eq!(result["http"]["status"], status, "{result}");
    let headers = &result["http"]["headers"];
    assert_eq!(headers["content-type"], "application/json", "{result}");
    assert_eq!(headers["server"], "executor-e2e-standin", "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn petstore_catalog_over_rest_and_mcp() {
    if !enabled("petstore_catalog_over_rest_and_mcp") {
        return;
    }
    let upstream = Upstream::start().await.expect("the stand-in starts");
    let spec_url = upstream.serve_petstore().expect("the petstore fixture");
    let canary = canary();
    let log = log_path("catalog");
    let worker = start_with(
        "catalog",
        &[("ALLOW_LOCAL_NETWORK", "true")],
        Some(log.clone()),
    )
    .await;
    let logs = || worker.logs();
    let api = Api::new(worker.base_url());
    let flow = std::time::Instant::now();

    // Preview (wire 08): no persistence, no per-operation list.
    let preview = api
        .post("/api/openapi/preview", &json!({ "spec": spec_url }))
        .await;
    assert_eq!(preview.status, 200, "{}\n{}", preview.text(), logs());
    let preview = preview.json();
    assert_eq!(preview["title"], "Tiny Petstore");
    assert_eq!(preview["operationCount"], 5);
    assert_eq!(
        preview["securitySchemes"],
        json!([{"name":"api_key","type":"apiKey","in":"header","headerName":"X-API-Key"}])
    );
    assert!(preview.get("operations").is_none());

    // Detection (wire 91).
    let detected = api
        .post("/api/integrations/detect", &json!({ "url": spec_url }))
        .await;
    assert_eq!(detected.status, 200, "{}\n{}", detected.text(), logs());
    assert_eq!(
        detected.json(),
        json!([{"kind":"openapi","confidence":"high","endpoint":spec_url,
                "name":"Tiny Petstore","slug":"tiny_petstore"}])
    );

    // Add by URL (wire 11): the Worker fetches the document from the stand-in.
    let mark = upstream.mark();
    let added = api
        .post(
            "/api/openapi/specs",
            &json!({"spec": {"kind": "url", "url": spec_url}, "slug": "petstore"}),
        )
        .await;
    assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
    assert_eq!(added.json(), json!({"slug": "petstore", "toolCount": 5}));
    let fetches = upstream.requests_since(mark);
    assert!(
        !fetches.is_empty() && fetches.iter().all(|r| r.line() == "GET /openapi.json"),
        "{:?}",
        fetches.iter().map(Recorded::line).collect::<Vec<_>>()
    );
    assert!(fetches[0]
        .header("accept")
        .is_some_and(|a| a.contains("application/json")));

    // Duplicate slug (wire 10) and a broken document (wire 13).
    let again = api
        .post(
            "/api/openapi/specs",
            &json!({"spec": {"kind": "url", "url": spec_url}, "slug": "petstore"}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text());
    assert_eq!(
        again.json(),
        json!({"_tag": "IntegrationAlreadyExistsError", "slug": "petstore"})
    );
    let broken = api
        .post(
            "/api/openapi/specs",
            &json!({"spec": {"kind": "blob", "value": "{not json"}, "slug": "broken"}),
        )
        .await;
    assert_eq!(broken.status, 400, "{}", broken.text());
    assert_eq!(
        broken.json(),
        json!({"_tag": "OpenApiParseError", "message": "Failed to parse OpenAPI document"})
    );

    // Catalog reads (wire 14, 15, 18).
    let apikey = json!({"id":"apikey-0","label":"API key (X-API-Key)","kind":"apikey","template":"apikey-0",
        "placements":[{"carrier":"header","name":"X-API-Key","prefix":""}]});
    let integration = api.get("/api/integrations/petstore").await;
    assert_eq!(integration.status, 200, "{}", integration.text());
    assert_eq!(
        integration.json(),
        json!({"slug":"petstore","name":"Tiny Petstore","description":"Small petstore used in tests",
               "kind":"openapi","canRemove":true,"canRefresh":true,"authMethods":[apikey],
               "displayUrl":spec_url})
    );
    let config = api.get("/api/openapi/integrations/petstore/config").await;
    assert_eq!(config.status, 200, "{}", config.text());
    assert_eq!(
        config.json(),
        json!({"sourceUrl":spec_url,"baseUrl":null,"headers":null,"queryParams":null,
               "authenticationTemplate":[{"slug":"apikey-0","kind":"apikey",
                   "placements":[{"carrier":"header","name":"X-API-Key"}]}]})
    );
    // Tools appear per connection (wire 19).
    let before = api.get("/api/tools?integration=petstore").await;
    assert_eq!(before.status, 200, "{}", before.text());
    assert_eq!(before.json(), json!([]));

    // An org connection holding the canary (wire 20, 24).
    let connection = api
        .post(
            "/api/connections",
            &json!({"owner":"org","name":"main","integration":"petstore","template":"apikey-0",
                    "value":canary,"identityLabel":"e2e key"}),
        )
        .await;
    assert_eq!(connection.status, 200, "{}\n{}", connection.text(), logs());
    assert_eq!(
        connection.json(),
        json!({"owner":"org","name":"main","integration":"petstore","template":"apikey-0",
               "provider":"encrypted","address":"tools.petstore.org.main","identityLabel":"e2e key",
               "description":null,"expiresAt":null,"oauthClient":null,"oauthClientOwner":null,
               "oauthScope":null})
    );
    let item = "connection:org:petstore:main:token";
    assert_eq!(
        api.get("/api/providers/encrypted/items").await.json(),
        json!([{"id": item, "name": item}])
    );

    // Tools of the connection (wire 25, 26), schema views (wire 28, 29).
    let expected_tools = json!([
        petstore_tool("pets.createPet", "Create a pet", Some("POST /pets")),
        petstore_tool(
            "pets.deletePet",
            "Delete a pet",
            Some("DELETE /pets/{petId}")
        ),
        petstore_tool("pets.getPet", "Info for a specific pet", None),
        petstore_tool("pets.listPets", "List all pets", None),
        petstore_tool(
            "store.getInventory",
            "Returns pet inventories by status",
            None
        ),
    ]);
    let tools = api.get("/api/tools?integration=petstore").await;
    assert_eq!(tools.status, 200, "{}\n{}", tools.text(), logs());
    assert_eq!(tools.json(), expected_tools);
    let matching = api.get("/api/tools?query=pet").await.json();
    let addresses: Vec<&str> = matching
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["address"].as_str()).collect())
        .unwrap_or_default();
    for tool in expected_tools.as_array().into_iter().flatten() {
        let address = tool["address"].as_str().unwrap_or("");
        assert!(addresses.contains(&address), "{address} in {matching}");
    }
    let schema = api
        .get("/api/tools/schema?address=tools.petstore.org.main.pets.getPet")
        .await;
    assert_eq!(schema.status, 200, "{}", schema.text());
    let pet = json!({"type":"object","required":["id","name"],"properties":{
        "id":{"type":"integer","format":"int64"},"name":{"type":"string"},"tag":{"type":"string"}}});
    assert_eq!(
        schema.json(),
        json!({"address":"tools.petstore.org.main.pets.getPet","name":"pets.getPet",
               "description":"Info for a specific pet",
               "inputSchema":{"type":"object","properties":{"petId":{"type":"integer"}},
                              "required":["petId"],"additionalProperties":false},
               "outputSchema":{"$ref":"#/$defs/Pet"},
               "schemaDefinitions":{"Pet":pet},
               "inputTypeScript":"{ petId: number; }","outputTypeScript":"Pet",
               "typeScriptDefinitions":{"Pet":"{ id: number; name: string; tag?: string; }"}})
    );
    let missing = api
        .get("/api/tools/schema?address=petstore.org.main.nope")
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["_tag"], "ToolNotFoundError");
    assert_eq!(missing.json()["address"], "petstore.org.main.nope");

    // Policies (wire 30, 31): createPet needs approval by default — approve it; block deletePet.
    let approve = api
        .post(
            "/api/policies",
            &json!({"owner":"org","pattern":"petstore.*.*.pets.createPet","action":"approve"}),
        )
        .await;
    assert_eq!(approve.status, 200, "{}\n{}", approve.text(), logs());
    assert_eq!(approve.json()["action"], "approve");
    assert_eq!(approve.json()["position"], "a0");
    let block = api
        .post(
            "/api/policies",
            &json!({"owner":"org","pattern":"petstore.*.*.pets.deletePet","action":"block"}),
        )
        .await;
    assert_eq!(block.status, 200, "{}", block.text());
    assert_eq!(block.json()["position"], "Zz");

    // REST execute: calls through the proxy reach the stand-in with the key (wire 40, 51, 54, 80, 99).
    let mark = upstream.mark();
    let envelope = api
        .execute(
            r#"const list = await tools.petstore.org.main.pets.listPets({ limit: 2 });
const one = await tools.petstore.org.main.pets.getPet({ petId: 1 });
const missing = await tools.petstore.org.main.pets.getPet({ petId: 999 });
const created = await tools.petstore.org.main.pets.createPet({ body: { name: "Rex" } });
const bad = await tools.petstore.org.main.pets.getPet({ petId: "one" });
const inventory = await tools.petstore.org.main.store.getInventory({});
const blocked = await tools.petstore.org.main.pets.deletePet({ petId: 3 });
return { list, one, missing, created, bad, inventory, blocked };"#,
            &logs,
        )
        .await;
    assert_eq!(envelope["status"], "completed", "{envelope}\n{}", logs());
    assert_eq!(envelope["isError"], false, "{envelope}\n{}", logs());
    let result = &envelope["structured"]["result"];
    assert_ok(
        &result["list"],
        200,
        &json!([{"id":1,"name":"Rex","tag":"dog"},{"id":2,"name":"Tom","tag":"cat"}]),
    );
    assert_ok(
        &result["one"],
        200,
        &json!({"id":1,"name":"Rex","tag":"dog"}),
    );
    assert_eq!(
        result["missing"],
        json!({"ok":false,"error":{"code":"upstream_http_error","status":404,"message":"pet not found",
               "details":{"code":404,"message":"pet not found"}}})
    );
    assert_ok(&result["created"], 201, &json!({"id":4,"name":"Rex"}));
    assert_eq!(result["bad"]["ok"], false, "{}", result["bad"]);
    assert_eq!(result["bad"]["error"]["code"], "invalid_tool_arguments");
    let issues = &result["bad"]["error"]["details"]["issues"];
    assert!(
        issues.as_array().is_some_and(|i| !i.is_empty()),
        "{}",
        result["bad"]
    );
    assert_ok(&result["inventory"], 200, &json!({"available":3,"sold":1}));
    assert_eq!(
        result["blocked"],
        json!({"ok":false,"error":{"code":"tool_blocked",
               "message":"Tool blocked by policy: petstore.org.main.pets.deletePet",
               "details":{"address":"tools.petstore.org.main.pets.deletePet",
                          "pattern":"petstore.*.*.pets.deletePet","_tag":"ToolBlockedError"}}})
    );
    let calls = calls_since(&upstream, mark);
    assert_eq!(
        calls.iter().map(Recorded::line).collect::<Vec<_>>(),
        [
            "GET /pets?limit=2",
            "GET /pets/1",
            "GET /pets/999",
            "POST /pets",
            "GET /store/inventory"
        ],
        "the invalid and the blocked call sent nothing"
    );
    for call in &calls {
        assert_injected_key(call, &canary);
    }
    assert_eq!(calls[3].json(), Some(json!({"name": "Rex"})));
    assert!(calls[3]
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    assert!(calls[0].body.is_empty());

    // MCP: discovery inside the sandbox (wire 48, 81, 83) and one call.
    let init = api.mcp(None, &initialize_body(1, "2025-06-18")).await;
    assert_eq!(init.status, 200, "{}\n{}", init.text(), logs());
    let session = init.header("mcp-session-id").expect("a session id");
    let notified = api
        .mcp(
            Some(&session),
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .await;
    assert_eq!(notified.status, 202);
    let mark = upstream.mark();
    let code = r#"const search = await tools.search({ query: "pets", limit: 10 });
const ns = await tools.search({ namespace: "petstore", query: "pet", limit: 2 });
const described = await tools.describe.tool({ path: "petstore.org.main.pets.getPet" });
const typo = await tools.describe.tool({ path: "petstore.org.main.pets.getPett" });
const listed = await tools[search.items[0].path]({ limit: 1 });
return { search, ns, described, typo, listed };"#;
    let call = api
        .mcp(
            Some(&session),
            &json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
                    "params":{"name":"execute","arguments":{"code":code}}}),
        )
        .await;
    assert_eq!(call.status, 200, "{}\n{}", call.text(), logs());
    let reply = call.json();
    let structured = &reply["result"]["structuredContent"];
    assert_eq!(structured["status"], "completed", "{reply}\n{}", logs());
    let result = &structured["result"];
    let hit = |name: &str, description: &str, score: u64| {
        json!({"path":format!("petstore.org.main.{name}"),"name":name,"description":description,
               "integration":"petstore","score":score})
    };
    assert_eq!(
        result["search"],
        json!({"items":[hit("pets.listPets","List all pets",457),
                        hit("pets.createPet","Create a pet",417),
                        hit("pets.getPet","Info for a specific pet",417),
                        hit("store.getInventory","Returns pet inventories by status",255)],
               "total":4,"hasMore":false,"nextOffset":null}),
        "the blocked deletePet is not searchable"
    );
    assert_eq!(
        result["ns"],
        json!({"items":[hit("pets.createPet","Create a pet",449),
                        hit("pets.getPet","Info for a specific pet",449)],
               "total":4,"hasMore":true,"nextOffset":2})
    );
    assert_eq!(
        result["described"],
        json!({"path":"petstore.org.main.pets.getPet","name":"pets.getPet",
               "description":"Info for a specific pet",
               "inputTypeScript":"{ petId: number; }",
               "outputTypeScript":"{ ok: true; data: Pet; http?: ToolHttpMeta } | { ok: false; error: ToolError }",
               "typeScriptDefinitions":{
                   "Pet":"{ id: number; name: string; tag?: string; }",
                   "ToolError":"{ code: string; message: string; status?: number; details?: unknown; retryable?: boolean }",
                   "ToolHttpMeta":"{ status: number; headers: { [k: string]: string; } }",
                   "ToolFile":"{ _tag: \"ToolFile\"; name?: string; mimeType: string; encoding: \"base64\"; data: string; byteLength: number; }"}})
    );
    assert_eq!(
        result["typo"],
        json!({"path":"petstore.org.main.pets.getPett","name":"petstore.org.main.pets.getPett",
               "error":{"code":"tool_not_found","message":"Tool not found: petstore.org.main.pets.getPett",
                        "suggestions":["petstore.org.main.pets.getPet","petstore.org.main.store.getInventory"]}})
    );
    assert_ok(
        &result["listed"],
        200,
        &json!([{"id":1,"name":"Rex","tag":"dog"}]),
    );
    let calls = calls_since(&upstream, mark);
    assert_eq!(
        calls.iter().map(Recorded::line).collect::<Vec<_>>(),
        ["GET /pets?limit=1"]
    );
    assert_injected_key(&calls[0], &canary);

    // Spec fetches never carry the connection's key.
    for request in upstream.requests() {
        if request.path == "/openapi.json" {
            assert_eq!(request.header("x-api-key"), None);
        }
    }

    metric("petstore.flow_ms", flow.elapsed().as_millis());

    assert_state_has_no_plaintext(&canary, worker.persist_to());
    worker.stop().await;
    assert_canary_absent(&canary, &api, &log).await;
}

/// Without `ALLOW_LOCAL_NETWORK` the Worker refuses loopback targets: adding a spec by URL
/// (wire 106) and calling a tool whose server is loopback (wire 107) both fail without any
/// request reaching the stand-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_refused_without_allow_local_network() {
    if !enabled("loopback_is_refused_without_allow_local_network") {
        return;
    }
    let upstream = Upstream::start().await.expect("the stand-in starts");
    let spec_url = upstream.serve_petstore().expect("the petstore fixture");
    let spec_text = upstream.petstore_text().expect("the petstore fixture");
    let canary = canary();
    let log = log_path("catalog-nolocal");
    let worker = start_with(
        "catalog-nolocal",
        &[("ALLOW_LOCAL_NETWORK", "")],
        Some(log.clone()),
    )
    .await;
    let logs = || worker.logs();
    let api = Api::new(worker.base_url());

    let refused = api
        .post(
            "/api/openapi/specs",
            &json!({"spec": {"kind": "url", "url": spec_url}, "slug": "p2"}),
        )
        .await;
    assert_eq!(refused.status, 400, "{}\n{}", refused.text(), logs());
    assert_eq!(
        refused.json(),
        json!({"_tag": "OpenApiParseError", "message": "Failed to fetch OpenAPI document"})
    );
    let detected = api
        .post("/api/integrations/detect", &json!({ "url": spec_url }))
        .await;
    assert_eq!(detected.status, 200, "{}", detected.text());
    assert_eq!(detected.json(), json!([]));

    let added = api
        .post(
            "/api/openapi/specs",
            &json!({"spec": {"kind": "blob", "value": spec_text}, "slug": "petstore"}),
        )
        .await;
    assert_eq!(added.status, 200, "{}\n{}", added.text(), logs());
    assert_eq!(added.json()["toolCount"], 5);
    let connection = api
        .post(
            "/api/connections",
            &json!({"owner":"org","name":"main","integration":"petstore","template":"apikey-0",
                    "value":canary}),
        )
        .await;
    assert_eq!(connection.status, 200, "{}\n{}", connection.text(), logs());
    let envelope = api
        .execute(
            "return await tools.petstore.org.main.pets.listPets({ limit: 1 });",
            &logs,
        )
        .await;
    // The issue asks for a typed refusal that names the reason and the setting, not the opaque
    // "Internal tool error" upstream gives (wire 107).
    assert_eq!(envelope["isError"], false, "{envelope}");
    let result = &envelope["structured"]["result"];
    assert_eq!(result["ok"], false, "{envelope}");
    assert_eq!(result["error"]["code"], "outbound_blocked", "{envelope}");
    let message = result["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("ALLOW_LOCAL_NETWORK"), "{envelope}");
    assert!(
        upstream.requests().is_empty(),
        "nothing reached loopback: {:?}",
        upstream
            .requests()
            .iter()
            .map(Recorded::line)
            .collect::<Vec<_>>()
    );

    worker.stop().await;
    assert_canary_absent(&canary, &api, &log).await;
}

//! The built-in tools (`tools.executor.*`, integration `executor`) called from a script with
//! malformed arguments: each call answers a ToolResult (`{ok: true, …}` or
//! `{ok: false, error: {code, message}}` with a string code) and never throws past the tool
//! proxy or fails the execution; the caller checks the stored state afterwards.

use serde_json::json;

use crate::support::{get, post_json};

/// Arguments no built-in accepts as a write: wrong shapes, wrong types, unknown enum values,
/// refused URLs, negative and oversized numbers, deep nesting.
const ARGUMENTS: &str = r#"[
  undefined, null, 5, -1, 1e308, "x", [], true, {},
  {owner: "root", action: "allow-all", grant: "implicit", mode: "append", kind: "file"},
  {slug: 5, name: [], url: {}, spec: 7, endpoint: 7, owner: 9, pattern: 5, action: [],
   integration: [], template: {}, state: 1, client: 2, id: {}, query: 5, code: 1,
   position: -1, limit: -5, value: {}, values: 5, config: "x", documents: 5, urls: "x"},
  {url: "file:///etc/passwd", endpoint: "http://169.254.169.254/", spec: "http://127.0.0.1:9/x",
   tokenUrl: "javascript:alert(1)", registrationEndpoint: "http://127.0.0.1:9/r"},
  {owner: "org", name: "x", integration: "nope", template: "t", pattern: "..", action: "block",
   slug: "../x", limit: 1e308, position: "!"},
  (() => { let d = 1; for (let i = 0; i < 200; i++) d = {a: [d]}; return {spec: d, url: d, owner: d, slug: d}; })(),
  (() => { let d = 1; for (let i = 0; i < 3000; i++) d = {a: d}; return {spec: d, url: d, owner: d}; })(),
  {slug: "s".repeat(100000), name: "n".repeat(100000), pattern: "p.".repeat(50000)}
]"#;

/// Runs the corpus over every built-in tool the catalog lists; answers (tools, calls).
pub async fn corpus(base: &str) -> (usize, usize) {
    let listed = get(&format!("{base}/api/tools?integration=executor"), &[]).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let addresses: Vec<String> = listed
        .json()
        .as_array()
        .expect("a tool list")
        .iter()
        .filter_map(|t| t["address"].as_str().map(str::to_string))
        .collect();
    assert!(addresses.len() >= 10, "built-ins listed: {addresses:?}");
    let mut calls = 0;
    for address in &addresses {
        let path: Vec<String> = address
            .trim_start_matches("tools.")
            .split('.')
            .map(|s| format!("[{}]", json!(s)))
            .collect();
        let code = format!(
            "const args = {ARGUMENTS};\n\
             const out = [];\n\
             for (const a of args) {{\n\
               try {{\n\
                 const r = await tools{}(a);\n\
                 if (r && r.ok === true) out.push('ok');\n\
                 else if (r && r.ok === false && r.error && typeof r.error.code === 'string' \
                          && typeof r.error.message === 'string') out.push('err:' + r.error.code);\n\
                 else out.push('other:' + JSON.stringify(r).slice(0, 200));\n\
               }} catch (e) {{ out.push('threw:' + String(e && e.message || e).slice(0, 200)); }}\n\
             }}\n\
             return out;",
            path.concat()
        );
        let answer = post_json(&format!("{base}/api/executions"), &json!({ "code": code })).await;
        let body = answer.json();
        if answer.status != 200 || body["status"] != "completed" || body["isError"] != false {
            super::soft(|| panic!("{address}: {} {body}", answer.status));
            continue;
        }
        let results = body["structured"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (i, r) in results.iter().enumerate() {
            let r = r.as_str().unwrap_or_default();
            // Too deep for the script's JSON.stringify, or for the host's JSON reader: the
            // proxy throws a TypeError naming the arguments, which the script catches.
            let unserialisable = r.starts_with("threw:arguments of tools.")
                && (r.contains("must be JSON-serialisable") || r.contains("recursion limit"));
            super::soft(|| {
                assert!(
                    r == "ok" || r.starts_with("err:") || unserialisable,
                    "{address} with argument #{i}: {r}"
                )
            });
        }
        calls += results.len();
    }
    (addresses.len(), calls)
}

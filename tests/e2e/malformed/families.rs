//! Route-specific malformed bodies for the route families added after the first slice of the
//! corpus (GraphQL, Google Discovery, remote MCP sources, OAuth, browser approvals), and bad
//! query strings. Every body here is invalid for its route: missing fields, wrong types, unknown
//! enum values, bad URLs, negative or oversized numbers, names that are taken.

use serde_json::{json, Value};

/// URLs no case ever fetches: not a URL, not http(s), the metadata address, loopback while
/// `ALLOW_LOCAL_NETWORK` is off. Routes that only store a URL (adding a GraphQL endpoint or an
/// MCP server) get the first two: a well-formed http(s) URL is legal there, and the fetch guard
/// refuses the other two when the URL is used.
const BAD_URLS: [(&str, &str); 4] = [
    ("not a url", "not a url"),
    ("file scheme", "file:///etc/passwd"),
    ("metadata address", "http://169.254.169.254/latest"),
    ("loopback", "http://127.0.0.1:9/x"),
];

fn with_bad_urls(
    out: &mut Vec<(String, Value)>,
    field: &str,
    fetched: bool,
    build: impl Fn(Value) -> Value,
) {
    let urls = if fetched {
        &BAD_URLS[..]
    } else {
        &BAD_URLS[..2]
    };
    for (name, url) in urls {
        out.push((format!("{field} {name}"), build(json!(url))));
    }
}

fn named(cases: Vec<(&str, Value)>) -> Vec<(String, Value)> {
    cases.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
}

/// Bodies for `route` (the key used in `malformed.rs`), or nothing when the route has none here.
pub fn bodies(route: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    match route {
        "POST /api/graphql/integrations" => {
            out = named(vec![
                ("missing endpoint", json!({"slug": "g2"})),
                ("endpoint a number", json!({"endpoint": 5})),
                (
                    "endpoint an object",
                    json!({"endpoint": {"url": "https://x.example/graphql"}}),
                ),
                (
                    "slug invalid",
                    json!({"endpoint": "https://g.example/graphql", "slug": "../x"}),
                ),
                (
                    "slug a number",
                    json!({"endpoint": "https://g.example/graphql", "slug": 5}),
                ),
                (
                    "slug taken",
                    json!({"endpoint": "https://g.example/graphql", "slug": "notes"}),
                ),
                (
                    "slug of the built-in",
                    json!({"endpoint": "https://g.example/graphql", "slug": "executor"}),
                ),
                (
                    "name a number",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g3", "name": 5}),
                ),
                (
                    "headers an array",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g4", "headers": ["x"]}),
                ),
                (
                    "header value a number",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g5", "headers": {"x": 1}}),
                ),
                (
                    "queryParams a string",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g6", "queryParams": "a=b"}),
                ),
                (
                    "introspectionJson a number",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g7", "introspectionJson": 5}),
                ),
                (
                    "introspectionJson not JSON",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g8", "introspectionJson": "{"}),
                ),
                (
                    "introspectionJson not an introspection",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g9", "introspectionJson": "{\"data\":{}}"}),
                ),
                (
                    "introspectionJson deep",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g10", "introspectionJson": format!("{}1{}", "[".repeat(5000), "]".repeat(5000))}),
                ),
                (
                    "authenticationTemplate a string",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g11", "authenticationTemplate": "bearer"}),
                ),
                (
                    "authenticationTemplate unknown type",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g12", "authenticationTemplate": [{"type": "kerberos"}]}),
                ),
                (
                    "authenticationTemplate entry a number",
                    json!({"endpoint": "https://g.example/graphql", "slug": "g13", "authenticationTemplate": [5]}),
                ),
            ]);
            with_bad_urls(
                &mut out,
                "endpoint",
                false,
                |u| json!({"endpoint": u, "slug": "g14"}),
            );
        }
        "POST /api/graphql/integrations/notes/config"
        | "POST /api/google/integrations/tasks/config"
        | "POST /api/openapi/integrations/petstore/config" => {
            out = named(vec![
                ("missing authenticationTemplate", json!({})),
                (
                    "authenticationTemplate a string",
                    json!({"authenticationTemplate": "x"}),
                ),
                (
                    "authenticationTemplate an object",
                    json!({"authenticationTemplate": {"type": "apiKey"}}),
                ),
                (
                    "authenticationTemplate entry a number",
                    json!({"authenticationTemplate": [5]}),
                ),
                (
                    "authenticationTemplate unknown type",
                    json!({"authenticationTemplate": [{"type": "kerberos"}]}),
                ),
                (
                    "mode unknown",
                    json!({"authenticationTemplate": [], "mode": "append"}),
                ),
                (
                    "mode a number",
                    json!({"authenticationTemplate": [], "mode": 1}),
                ),
                (
                    "header parts wrong",
                    json!({"authenticationTemplate": [{"type": "apiKey", "headers": {"X": [5, {"type": "secret"}]}}]}),
                ),
            ]);
        }
        "POST /api/google/bundles" => {
            out = named(vec![
                ("neither urls nor documents", json!({"slug": "b1"})),
                (
                    "empty urls and documents",
                    json!({"slug": "b2", "urls": [], "documents": []}),
                ),
                (
                    "urls a string",
                    json!({"urls": "https://www.googleapis.com/discovery/v1/apis/tasks/v1/rest"}),
                ),
                ("urls of numbers", json!({"urls": [5]})),
                ("documents a string", json!({"documents": "{}"})),
                ("documents of numbers", json!({"documents": [5]})),
                ("document empty", json!({"documents": [{}], "slug": "b3"})),
                (
                    "document not discovery",
                    json!({"documents": [{"openapi": "3.0.0"}], "slug": "b4"}),
                ),
                (
                    "document resources wrong",
                    json!({"documents": [{"kind": "discovery#restDescription", "rootUrl": "https://x.example/", "servicePath": "", "resources": 5}], "slug": "b5"}),
                ),
                ("slug invalid", json!({"documents": [{}], "slug": "a/b"})),
                ("slug a number", json!({"documents": [{}], "slug": 7})),
                (
                    "headers an array",
                    json!({"documents": [{}], "slug": "b6", "headers": [1]}),
                ),
                (
                    "baseUrl a number",
                    json!({"documents": [{}], "slug": "b7", "baseUrl": 1}),
                ),
            ]);
            with_bad_urls(
                &mut out,
                "url",
                true,
                |u| json!({"urls": [u], "slug": "b8"}),
            );
        }
        "POST /api/google/integrations/tasks/bundle" => {
            out = named(vec![
                ("urls a string", json!({"urls": "x"})),
                ("urls of objects", json!({"urls": [{}]})),
                ("documents a number", json!({"documents": 5})),
                ("document empty", json!({"documents": [{}]})),
                (
                    "document of the wrong kind",
                    json!({"documents": [{"swagger": "2.0"}]}),
                ),
            ]);
            with_bad_urls(&mut out, "url", true, |u| json!({"urls": [u]}));
        }
        "POST /api/mcp/probe" => {
            out = named(vec![
                ("missing endpoint", json!({})),
                ("endpoint a number", json!({"endpoint": 5})),
                ("endpoint null", json!({"endpoint": null})),
                (
                    "headers an array",
                    json!({"endpoint": "http://127.0.0.1:9/mcp", "headers": [1]}),
                ),
                (
                    "queryParams a number",
                    json!({"endpoint": "http://127.0.0.1:9/mcp", "queryParams": 1}),
                ),
            ]);
            with_bad_urls(&mut out, "endpoint", true, |u| json!({"endpoint": u}));
        }
        "POST /api/mcp/servers" => {
            out = named(vec![
                ("missing endpoint", json!({"name": "m"})),
                ("missing name", json!({"endpoint": "https://m.example/mcp"})),
                (
                    "name a number",
                    json!({"endpoint": "https://m.example/mcp", "name": 5}),
                ),
                ("endpoint a number", json!({"endpoint": 5, "name": "m"})),
                (
                    "slug invalid",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "slug": "-x"}),
                ),
                (
                    "slug overlong",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "slug": "a".repeat(300)}),
                ),
                (
                    "slug a number",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "slug": 5}),
                ),
                (
                    "slug taken",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "slug": "remote"}),
                ),
                (
                    "slug of an OpenAPI integration",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "slug": "petstore"}),
                ),
                (
                    "slug of the built-in",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "slug": "executor"}),
                ),
                (
                    "remoteTransport unknown",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "remoteTransport": "websocket"}),
                ),
                (
                    "remoteTransport a number",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "remoteTransport": 2}),
                ),
                (
                    "transport a number",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "transport": 2}),
                ),
                (
                    "stdio without command",
                    json!({"transport": "stdio", "name": "m"}),
                ),
                (
                    "stdio command a number",
                    json!({"transport": "stdio", "name": "m", "command": 5}),
                ),
                (
                    "headers an array",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "headers": ["a"]}),
                ),
                (
                    "auth kind unknown",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "auth": {"kind": "magic"}}),
                ),
                (
                    "auth a string",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "auth": "none"}),
                ),
                (
                    "auth header without a name",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "auth": {"kind": "header"}}),
                ),
                (
                    "authenticationTemplate a string",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "authenticationTemplate": "x"}),
                ),
                (
                    "authenticationTemplate unknown type",
                    json!({"endpoint": "https://m.example/mcp", "name": "m", "authenticationTemplate": [{"type": "kerberos"}]}),
                ),
            ]);
            with_bad_urls(
                &mut out,
                "endpoint",
                false,
                |u| json!({"endpoint": u, "name": "m"}),
            );
        }
        "POST /api/mcp/servers/remote/config" => {
            out = named(vec![
                ("missing config", json!({})),
                ("config an array", json!({"config": []})),
                ("config a string", json!({"config": "{}"})),
                (
                    "config without endpoint",
                    json!({"config": {"remoteTransport": "sse"}}),
                ),
                (
                    "config endpoint a number",
                    json!({"config": {"endpoint": 5}}),
                ),
                (
                    "config remoteTransport unknown",
                    json!({"config": {"endpoint": "https://m.example/mcp", "remoteTransport": "pigeon"}}),
                ),
                (
                    "config headers an array",
                    json!({"config": {"endpoint": "https://m.example/mcp", "headers": [1]}}),
                ),
                (
                    "config auth kind unknown",
                    json!({"config": {"endpoint": "https://m.example/mcp", "auth": {"kind": "magic"}}}),
                ),
            ]);
            with_bad_urls(
                &mut out,
                "config endpoint",
                false,
                |u| json!({"config": {"endpoint": u}}),
            );
        }
        "POST /api/mcp/servers/remote/auth" => {
            out = named(vec![
                (
                    "mode unknown",
                    json!({"mode": "append", "authenticationTemplate": []}),
                ),
                (
                    "mode a number",
                    json!({"mode": 1, "authenticationTemplate": []}),
                ),
                (
                    "authenticationTemplate a string",
                    json!({"authenticationTemplate": "x"}),
                ),
                (
                    "authenticationTemplate unknown type",
                    json!({"authenticationTemplate": [{"type": "kerberos"}]}),
                ),
                (
                    "authenticationTemplate entry a number",
                    json!({"authenticationTemplate": [5]}),
                ),
            ]);
        }
        "POST /api/oauth/clients" => {
            let good = json!({"owner": "org", "slug": "app2", "grant": "authorization_code",
                "authorizationUrl": "https://auth.example/authorize",
                "tokenUrl": "https://auth.example/token", "clientId": "id"});
            let mut with = |name: &str, key: &str, value: Value| {
                let mut body = good.clone();
                if value.is_null() {
                    body.as_object_mut().map(|o| o.remove(key));
                } else {
                    body[key] = value;
                }
                out.push((name.to_string(), body));
            };
            with("missing owner", "owner", Value::Null);
            with("unknown owner", "owner", json!("root"));
            with("owner a number", "owner", json!(1));
            with("missing slug", "slug", Value::Null);
            with("slug a number", "slug", json!(5));
            with("unknown grant", "grant", json!("implicit"));
            with("grant a number", "grant", json!(2));
            with("missing tokenUrl", "tokenUrl", Value::Null);
            with("tokenUrl a number", "tokenUrl", json!(5));
            with("tokenUrl not a url", "tokenUrl", json!("not a url"));
            with(
                "tokenUrl file scheme",
                "tokenUrl",
                json!("file:///etc/passwd"),
            );
            with(
                "authorizationUrl not a url",
                "authorizationUrl",
                json!("::"),
            );
            with("missing clientId", "clientId", Value::Null);
            with("clientId an array", "clientId", json!(["id"]));
            with("clientSecret a number", "clientSecret", json!(5));
            with("clientSecret an object", "clientSecret", json!({"s": 1}));
        }
        "POST /api/oauth/clients/register-dynamic" => {
            let good = json!({"owner": "org", "slug": "dyn", "registrationEndpoint": "http://127.0.0.1:9/register",
                "authorizationUrl": "https://auth.example/authorize", "tokenUrl": "https://auth.example/token"});
            out = named(vec![
                ("missing fields", json!({"owner": "org"})),
                (
                    "unknown owner",
                    json!({"owner": "all", "slug": "dyn", "registrationEndpoint": "https://a.example/r", "authorizationUrl": "https://a.example/a", "tokenUrl": "https://a.example/t"}),
                ),
                ("scopes a string", {
                    let mut b = good.clone();
                    b["scopes"] = json!("read");
                    b
                }),
                ("scopes of numbers", {
                    let mut b = good.clone();
                    b["scopes"] = json!([1]);
                    b
                }),
                ("slug taken", {
                    let mut b = good.clone();
                    b["slug"] = json!("app");
                    b
                }),
                ("slug invalid", {
                    let mut b = good.clone();
                    b["slug"] = json!("../x");
                    b
                }),
            ]);
            with_bad_urls(&mut out, "registrationEndpoint", true, |u| {
                let mut b = good.clone();
                b["registrationEndpoint"] = u;
                b
            });
        }
        "DELETE /api/oauth/clients/app" => {
            out = named(vec![
                ("missing owner", json!({})),
                ("unknown owner", json!({"owner": "everyone"})),
                ("owner a number", json!({"owner": 0})),
                ("owner null", json!({"owner": null})),
            ]);
        }
        "POST /api/oauth/start" => {
            let good = json!({"client": "app", "clientOwner": "org", "owner": "org", "name": "viaoauth",
                "integration": "petstore", "template": "apikey-0"});
            let mut with = |name: &str, key: &str, value: Value| {
                let mut body = good.clone();
                if value.is_null() {
                    body.as_object_mut().map(|o| o.remove(key));
                } else {
                    body[key] = value;
                }
                out.push((name.to_string(), body));
            };
            with("missing client", "client", Value::Null);
            with("unknown client", "client", json!("nope"));
            with("client a number", "client", json!(5));
            with("missing owner", "owner", Value::Null);
            with("unknown owner", "owner", json!("root"));
            with("unknown clientOwner", "clientOwner", json!("team"));
            with(
                "org connection with a user client",
                "clientOwner",
                json!("user"),
            );
            with("missing integration", "integration", Value::Null);
            with("name a number", "name", json!(5));
            with("template an array", "template", json!([]));
            with("identityLabel a number", "identityLabel", json!(5));
            with("redirectUri a number", "redirectUri", json!(5));
        }
        "POST /api/oauth/complete" => {
            out = named(vec![
                ("missing fields", json!({})),
                ("missing code", json!({"state": "s"})),
                ("state a number", json!({"state": 5, "code": "c"})),
                ("code an object", json!({"state": "s", "code": {}})),
                (
                    "unknown state",
                    json!({"state": "0123456789abcdef", "code": "c"}),
                ),
                ("empty state", json!({"state": "", "code": "c"})),
                (
                    "overlong state",
                    json!({"state": "s".repeat(100_000), "code": "c"}),
                ),
            ]);
        }
        "POST /api/oauth/cancel" => {
            out = named(vec![
                ("missing state", json!({})),
                ("state a number", json!({"state": 5})),
                ("state null", json!({"state": null})),
                ("state an array", json!({"state": ["s"]})),
            ]);
        }
        "POST /api/oauth/probe" => {
            out = named(vec![
                ("missing url", json!({})),
                ("url a number", json!({"url": 5})),
                ("url an array", json!({"url": ["https://a.example"]})),
            ]);
            with_bad_urls(&mut out, "url", true, |u| json!({"url": u}));
        }
        "POST /api/mcp-sessions/{sid}/executions/{eid}/resume" => {
            out = named(vec![
                ("missing action", json!({})),
                ("unknown action", json!({"action": "approve"})),
                ("action a number", json!({"action": 1})),
                (
                    "content a string",
                    json!({"action": "accept", "content": "{}"}),
                ),
                (
                    "content an array",
                    json!({"action": "accept", "content": []}),
                ),
                ("unknown field", json!({"action": "accept", "extra": 1})),
            ]);
        }
        "PATCH /api/policies/{id}" => {
            out = named(vec![
                ("position negative", json!({"position": -1})),
                ("position oversized", json!({"position": 1e300})),
                (
                    "position past u64",
                    json!({"position": 18446744073709551616u128 as f64}),
                ),
                ("position a string", json!({"position": "first"})),
                ("position empty", json!({"position": ""})),
                ("position not canonical", json!({"position": "a00"})),
                ("position bad characters", json!({"position": "a-!"})),
            ]);
        }
        _ => {}
    }
    out
}

/// `GET` routes whose query string is wrong: `(what, path and query)`. Each answer is a typed
/// 4xx.
pub fn bad_queries() -> Vec<(&'static str, String)> {
    let long = "9".repeat(400);
    vec![
        (
            "approvals: unknown status",
            "/api/executions?status=running".into(),
        ),
        ("approvals: limit zero", "/api/executions?limit=0".into()),
        (
            "approvals: limit negative",
            "/api/executions?limit=-1".into(),
        ),
        (
            "approvals: limit oversized",
            format!("/api/executions?limit={long}"),
        ),
        (
            "approvals: limit past the page",
            "/api/executions?limit=100000".into(),
        ),
        (
            "approvals: limit not a number",
            "/api/executions?limit=ten".into(),
        ),
        (
            "approvals: limit fractional",
            "/api/executions?limit=1.5".into(),
        ),
        (
            "approvals: cursor garbage",
            "/api/executions?cursor=%ff%fe".into(),
        ),
        (
            "approvals: cursor forged",
            "/api/executions?cursor=eyJ4IjoxfQ".into(),
        ),
        (
            "approvals: cursor overlong",
            format!("/api/executions?cursor={}", "A".repeat(5000)),
        ),
        ("tools: unknown owner", "/api/tools?owner=root".into()),
        ("tools schema: no address", "/api/tools/schema".into()),
        (
            "tools schema: unknown address",
            "/api/tools/schema?address=nope.org.main.x".into(),
        ),
        (
            "tools schema: address not UTF-8",
            "/api/tools/schema?address=%ff".into(),
        ),
        ("audit: limit negative", "/api/audit?limit=-5".into()),
        ("audit: limit oversized", format!("/api/audit?limit={long}")),
        ("audit: limit not a number", "/api/audit?limit=x".into()),
        ("audit: query not UTF-8", "/api/audit?outcome=%ff".into()),
        (
            "audit: outcome not a code",
            "/api/audit?outcome=Not%20OK!".into(),
        ),
        (
            "audit: unknown decision",
            "/api/audit?decision=maybe".into(),
        ),
        ("audit: cursor garbage", "/api/audit?cursor=%%%".into()),
        (
            "audit: since not a time",
            "/api/audit?since=yesterday".into(),
        ),
    ]
}

/// Bad path parameters of the newer families: `(method, path, lenient)`. `lenient`: the path
/// is well formed but names nothing of that kind, where the reference answers "nothing here"
/// with a 2xx (`null`, `[]`, `{config: null}`, an idempotent delete); the state comparison proves
/// nothing changed. Every other answer must be a typed 4xx.
pub fn bad_paths() -> Vec<(&'static str, String, bool)> {
    let long = "a".repeat(3000);
    let sid = "0".repeat(64);
    let eid = "exec_00000000-0000-4000-8000-000000000000";
    vec![
        ("GET", "/api/graphql/integrations/%ff".into(), false),
        ("GET", "/api/graphql/integrations/nope".into(), true),
        ("GET", format!("/api/graphql/integrations/{long}"), false),
        ("GET", "/api/graphql/integrations/%00/config".into(), true),
        ("POST", "/api/graphql/integrations/nope/config".into(), true),
        (
            "POST",
            "/api/graphql/integrations/petstore/config".into(),
            true,
        ),
        ("GET", "/api/google/integrations/%ff".into(), false),
        ("GET", "/api/google/integrations/nope".into(), true),
        (
            "GET",
            "/api/google/integrations/petstore/config".into(),
            true,
        ),
        ("POST", "/api/google/integrations/nope/bundle".into(), true),
        (
            "POST",
            "/api/google/integrations/petstore/bundle".into(),
            true,
        ),
        ("POST", "/api/google/integrations/nope/config".into(), true),
        ("DELETE", "/api/google/integrations/%E2%80%AE".into(), true),
        ("DELETE", "/api/google/integrations/petstore".into(), true),
        ("GET", "/api/mcp/servers/%ff".into(), false),
        ("GET", "/api/mcp/servers/nope".into(), true),
        ("GET", format!("/api/mcp/servers/{long}"), false),
        ("POST", "/api/mcp/servers/nope/config".into(), true),
        ("POST", "/api/mcp/servers/petstore/config".into(), true),
        ("POST", "/api/mcp/servers/nope/auth".into(), true),
        ("DELETE", "/api/mcp/servers/petstore".into(), true),
        ("DELETE", "/api/mcp/servers/%00".into(), true),
        ("DELETE", "/api/oauth/clients/%ff".into(), false),
        ("DELETE", "/api/oauth/clients/nope".into(), true),
        (
            "POST",
            "/api/connections/org/petstore/main/refresh".into(),
            true,
        ),
        (
            "POST",
            "/api/connections/root/petstore/main/refresh".into(),
            false,
        ),
        (
            "POST",
            "/api/connections/org/%ff/main/refresh".into(),
            false,
        ),
        (
            "POST",
            format!("/api/connections/org/petstore/{long}/refresh"),
            false,
        ),
        (
            "GET",
            format!("/api/mcp-sessions/{sid}/executions/{eid}"),
            false,
        ),
        (
            "GET",
            format!("/api/mcp-sessions/short/executions/{eid}"),
            false,
        ),
        (
            "GET",
            format!("/api/mcp-sessions/{}/executions/{eid}", "G".repeat(64)),
            false,
        ),
        (
            "GET",
            format!("/api/mcp-sessions/{sid}/executions/%ff"),
            false,
        ),
        (
            "POST",
            format!("/api/mcp-sessions/{sid}/executions/{eid}/resume"),
            false,
        ),
        (
            "POST",
            format!("/api/mcp-sessions/%ff/executions/{eid}/resume"),
            false,
        ),
        (
            "POST",
            format!("/api/mcp-sessions/{sid}/executions/{long}/resume"),
            false,
        ),
    ]
}

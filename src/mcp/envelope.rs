//! Worker-side rules for `/mcp`, applied in order (executor-behaviour.md §6.2, with the upstream
//! defects §14 #8 fixed): OPTIONS → 204; unknown method → 405; Origin check; authentication →
//! 401 with a `WWW-Authenticate` challenge; no session id: GET → 400, DELETE → 204, POST →
//! a `2026-07-28` request is answered statelessly ([`super::stateless`]), otherwise a session is
//! minted only for `initialize`; with a session id → forward to that session's object.

use serde_json::Value;

use super::internal_headers as h;
use super::jsonrpc::{with_cors, McpFailure};
use crate::app::{App, SessionRouteError};
use crate::auth::Principal;
use crate::http::{Request, Response};
use crate::logging;

pub const SESSION_HEADER: &str = "mcp-session-id";

/// Elicitation mode chosen by the connecting client through the URL (§6.3).
pub fn elicitation_mode(request: &Request) -> &'static str {
    match request.query_param("elicitation_mode").as_deref() {
        Some("browser") => "browser",
        Some("native") => "native",
        Some("model") => "model",
        _ => "model",
    }
}

/// The MCP specification requires validating `Origin` against DNS rebinding. Requests without
/// one (non-browser clients) pass; browser requests must come from this deployment's origin (or
/// the pinned public URL), or — for local development only — from a loopback page talking to a
/// loopback Worker.
pub fn origin_allowed(request: &Request, public_site_url: Option<&str>) -> bool {
    let Some(origin) = request.header("origin") else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    if origin == request.origin() || Some(origin) == public_site_url {
        return true;
    }
    is_loopback_origin(origin) && is_loopback_origin(&request.origin())
}

fn is_loopback_origin(origin: &str) -> bool {
    let host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(origin);
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..]).unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn preflight() -> Response {
    Response::empty(204)
        .with_header("access-control-allow-origin", "*")
        .with_header("access-control-allow-methods", "GET, POST, DELETE, OPTIONS")
        .with_header(
            "access-control-allow-headers",
            "content-type, authorization, mcp-session-id, accept, mcp-protocol-version, \
             last-event-id, mcp-method, mcp-name",
        )
        .with_header(
            "access-control-expose-headers",
            "mcp-session-id, WWW-Authenticate",
        )
}

/// True when the POST body is an `initialize` request (alone, or the only one in a batch).
fn is_initialize(body: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m.get("method").and_then(Value::as_str) == Some("initialize"),
        Ok(Value::Array(items)) => {
            items.len() == 1 && items[0].get("method").and_then(Value::as_str) == Some("initialize")
        }
        _ => false,
    }
}

/// Copies the client's request, dropping any forged internal headers and adding the verified
/// principal.
fn forwarded(request: &Request, principal: &Principal, session_id: &str, new: bool) -> Request {
    let mut out = request.clone();
    out.headers.retain(|(name, _)| !name.starts_with(h::PREFIX));
    let mut add = |name: &str, value: &str| out.headers.push((name.to_string(), value.to_string()));
    add(h::ACCOUNT_ID, &principal.account_id);
    add(h::ORGANIZATION_ID, &principal.organization.id);
    add(h::EMAIL, &principal.email);
    add(h::NAME, principal.name.as_deref().unwrap_or(""));
    add(h::SESSION_ID, session_id);
    if new {
        add(h::NEW_SESSION, "1");
        add(h::ELICITATION_MODE, elicitation_mode(request));
        add(h::WEB_ORIGIN, &request.origin());
    }
    out
}

/// Handles any request to `/mcp`.
pub async fn handle(app: &App<'_>, request: Request) -> Response {
    with_cors(route(app, request).await)
}

async fn route(app: &App<'_>, request: Request) -> Response {
    let method = request.method.as_str();
    if method == "OPTIONS" {
        return preflight();
    }
    if !matches!(method, "GET" | "POST" | "DELETE") {
        return McpFailure::MethodNotAllowed.into_response();
    }
    if !origin_allowed(&request, app.services.config.public_site_url.as_deref()) {
        return McpFailure::ForbiddenOrigin.into_response();
    }
    let principal = match app.identity.identify(&request).await {
        Ok(p) => p,
        Err(e) => {
            logging::info(&format!("mcp: unauthenticated request: {e}"));
            return McpFailure::Unauthorized {
                resource_metadata: format!(
                    "{}/.well-known/oauth-protected-resource",
                    request.origin()
                ),
            }
            .into_response();
        }
    };

    let session_id = request
        .header(SESSION_HEADER)
        .map(str::trim)
        .map(str::to_string);
    let (session_id, new) = match session_id {
        Some(id) => {
            if !super::is_session_id(&id) {
                return McpFailure::SessionNotFound.into_response();
            }
            (id, false)
        }
        None => match method {
            "GET" => return McpFailure::SessionRequiredForStream.into_response(),
            "DELETE" => return Response::empty(204),
            _ => {
                // Protocol 2026-07-28 has no sessions: answered here, without the object.
                if super::stateless::wants_stateless(&request) {
                    let origin = request.origin();
                    let stateless = super::stateless::Stateless {
                        services: app.services,
                        principal: &principal,
                        web_origin: Some(origin.as_str()),
                    };
                    return stateless.handle(&request).await;
                }
                if !is_initialize(&request.body) {
                    return McpFailure::InvalidRequest(
                        "Server not initialized: send `initialize` without an mcp-session-id \
                         header first"
                            .into(),
                    )
                    .into_response();
                }
                match app.sessions.new_session_id() {
                    Ok(id) => (id, true),
                    Err(e) => {
                        logging::error(&format!("mcp: cannot mint a session: {e:?}"));
                        return McpFailure::Internal.into_response();
                    }
                }
            }
        },
    };

    let inner = forwarded(&request, &principal, &session_id, new);
    match app.sessions.forward(&session_id, inner).await {
        Ok(response) => response,
        Err(SessionRouteError::UnknownSession) => McpFailure::SessionNotFound.into_response(),
        Err(SessionRouteError::Unavailable(cause)) => {
            logging::error(&format!("mcp: session object unavailable: {cause}"));
            McpFailure::Internal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_rules() {
        let req = |origin: Option<&str>, url: &str| {
            let r = Request::new("POST", url);
            match origin {
                Some(o) => r.with_header("origin", o),
                None => r,
            }
        };
        let public = Some("https://executor.example.com");
        assert!(origin_allowed(
            &req(None, "https://executor.example.com/mcp"),
            public
        ));
        assert!(origin_allowed(
            &req(
                Some("https://executor.example.com"),
                "https://executor.example.com/mcp"
            ),
            public
        ));
        assert!(!origin_allowed(
            &req(
                Some("https://evil.example"),
                "https://executor.example.com/mcp"
            ),
            public
        ));
        assert!(origin_allowed(
            &req(Some("http://localhost:6274"), "http://127.0.0.1:8787/mcp"),
            None
        ));
        assert!(!origin_allowed(
            &req(
                Some("http://localhost:6274"),
                "https://executor.example.com/mcp"
            ),
            None
        ));
        assert!(!origin_allowed(
            &req(
                Some("http://127.0.0.1.evil.example"),
                "http://127.0.0.1:8787/mcp"
            ),
            None
        ));
    }

    #[test]
    fn only_initialize_mints_sessions() {
        assert!(is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#
        ));
        assert!(is_initialize(
            br#"[{"jsonrpc":"2.0","id":1,"method":"initialize"}]"#
        ));
        assert!(!is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!is_initialize(b"not json"));
    }

    #[test]
    fn elicitation_mode_defaults_to_model() {
        assert_eq!(
            elicitation_mode(&Request::new("POST", "http://h/mcp")),
            "model"
        );
        assert_eq!(
            elicitation_mode(&Request::new(
                "POST",
                "http://h/mcp?elicitation_mode=browser"
            )),
            "browser"
        );
        assert_eq!(
            elicitation_mode(&Request::new("POST", "http://h/mcp?elicitation_mode=zzz")),
            "model"
        );
    }
}

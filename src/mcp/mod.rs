//! The MCP endpoint (`/mcp`, streamable HTTP; executor-behaviour.md §6).
//!
//! - [`envelope`] runs in the Worker: CORS preflight, method and Origin checks, authentication,
//!   session minting (only for `initialize`) and routing to the session object.
//! - [`session`] runs inside the session's Durable Object: owner check, transport rules
//!   (Accept/Content-Type, batches, notifications → 202), `DELETE`.
//! - [`server`] answers one JSON-RPC message: `initialize` (version negotiation), `ping`,
//!   `tools/list`, `tools/call` → the shared [`crate::executions::execute`] service.
//! - [`browser`] is browser-mode approval (§6.6): approval links and a `resume` that waits
//!   for the console's decision.
//! - [`stateless`] answers protocol `2026-07-28` requests (no session; approvals as
//!   `input_required` results) directly in the Worker.
//! - [`jsonrpc`] is the one place that turns MCP failures into HTTP responses.
//! - [`live`] is a session object's in-memory state: the GET event stream, waiters for client
//!   responses and for duplicate request ids, the idle policy.
//! - [`native`] runs `execute` in native elicitation mode (`elicitation/create` over the stream).
//!
//! Wire types come from `rmcp::model`; the dispatch is ours.

pub mod browser;
pub mod envelope;
pub mod jsonrpc;
pub mod live;
pub mod native;
pub mod server;
pub mod session;
pub mod stateless;

/// How a session asks a person to approve a paused call (§6.5), chosen with
/// `?elicitation_mode=` when the session is created and kept in its meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ElicitationMode {
    /// The agent relays the user's answer through the `resume` tool (the default).
    #[default]
    Model,
    /// The user decides on the console's approval page; `resume` waits for that decision.
    Browser,
    /// The server asks the client with `elicitation/create` over the session's GET stream.
    Native,
}

impl ElicitationMode {
    /// Reads a stored or requested mode; anything unknown is [`ElicitationMode::Model`].
    pub fn parse(text: &str) -> ElicitationMode {
        match text {
            "browser" => ElicitationMode::Browser,
            "native" => ElicitationMode::Native,
            _ => ElicitationMode::Model,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ElicitationMode::Model => "model",
            ElicitationMode::Browser => "browser",
            ElicitationMode::Native => "native",
        }
    }
}

/// Protocol versions that use the `initialize` handshake and that we negotiate, oldest first.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[&str] =
    &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// What we answer when a client asks for a version we do not know.
pub const LATEST_PROTOCOL_VERSION: &str = "2025-11-25";

/// Internal headers the Worker sets (and overwrites) when it forwards a request to a session
/// object. Clients cannot forge them: the envelope strips every incoming `x-executor-mcp-*`.
pub mod internal_headers {
    pub const PREFIX: &str = "x-executor-mcp-";
    pub const ACCOUNT_ID: &str = "x-executor-mcp-account-id";
    pub const ORGANIZATION_ID: &str = "x-executor-mcp-organization-id";
    pub const EMAIL: &str = "x-executor-mcp-email";
    pub const NAME: &str = "x-executor-mcp-name";
    pub const SESSION_ID: &str = "x-executor-mcp-session-id";
    /// Present (value `1`) when the Worker minted this session for an `initialize`.
    pub const NEW_SESSION: &str = "x-executor-mcp-new-session";
    pub const ELICITATION_MODE: &str = "x-executor-mcp-elicitation-mode";
    pub const WEB_ORIGIN: &str = "x-executor-mcp-web-origin";
}

/// Is `id` shaped like a session id we mint (a Durable Object id: 64 lowercase hex)?
pub fn is_session_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

//! The `GET /api/oauth/callback` page (executor-behaviour.md §3.8): a small self-contained HTML
//! document that tells the user how it went and hands `{type: "executor:oauth-result", ok,
//! sessionId, error?, errorDetails?}` back to the console — `postMessage` to the opener (own
//! origin only), a `BroadcastChannel` and `localStorage`, all named `executor:oauth-result` — and
//! closes itself after 400 ms on success. It carries no token or code; every dynamic text is
//! escaped for its context (HTML text, or JSON inside a script with `<`, `>`, `&` and the JS line
//! separators escaped), and a CSP with a per-response nonce allows only its own script.

use serde_json::{json, Value};

/// Escapes text for an HTML text node or attribute.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON safe to place inside `<script>`: no `</script>`, no HTML comment openers, no raw line
/// separators.
pub fn script_json(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The outcome the page reports.
pub struct Outcome<'a> {
    pub ok: bool,
    pub state: &'a str,
    /// Short error text (one of the §3.8 texts).
    pub error: Option<&'a str>,
    /// More detail (an authorization server's error code, a message without secrets).
    pub details: Option<&'a str>,
}

/// The page and the nonce its CSP must name.
pub fn render(outcome: &Outcome<'_>) -> (String, String) {
    let nonce = super::pkce::state();
    let mut result = json!({
        "type": "executor:oauth-result",
        "ok": outcome.ok,
        "sessionId": outcome.state,
    });
    if let Some(error) = outcome.error {
        result["error"] = Value::String(error.into());
    }
    if let Some(details) = outcome.details {
        result["errorDetails"] = Value::String(details.into());
    }
    let (title, text) = if outcome.ok {
        (
            "Connected",
            "The account is connected. This window closes by itself; you can also close it and \
             return to Executor."
                .to_string(),
        )
    } else {
        (
            outcome.error.unwrap_or("Authentication failed"),
            match outcome.details {
                Some(d) => format!("{d} Close this window and try again from Executor."),
                None => "Close this window and try again from Executor.".into(),
            },
        )
    };
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Executor</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;\
         place-items:center;min-height:100vh;background:#f6f6f4;color:#222}}\
         main{{max-width:28rem;padding:2rem;background:#fff;border-radius:8px;\
         box-shadow:0 1px 3px #0002}}h1{{font-size:1.25rem;margin:0 0 .5rem}}</style></head>\
         <body><main><h1>{title}</h1><p>{text}</p></main>\
         <script nonce=\"{nonce}\">(function(){{var r={result};\
         try{{if(window.opener)window.opener.postMessage(r,location.origin)}}catch(e){{}}\
         try{{var c=new BroadcastChannel(\"executor:oauth-result\");c.postMessage(r);c.close()}}\
         catch(e){{}}\
         try{{localStorage.setItem(\"executor:oauth-result\",JSON.stringify(r))}}catch(e){{}}\
         if(r.ok)setTimeout(function(){{window.close()}},400)}})();</script></body></html>\n",
        title = html_escape(title),
        text = html_escape(&text),
        result = script_json(&result),
    );
    (page, nonce)
}

/// The page's `Content-Security-Policy`.
pub fn csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

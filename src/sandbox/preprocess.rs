//! Turns the agent's submitted text into candidate scripts for the engine.
//!
//! The engine compiles the candidates in order and keeps the first one that parses; a
//! `SyntaxError` moves on to the next, and the last candidate's error is the one reported.
//!
//! 1. A fenced Markdown block (```` ```lang … ``` ````) narrows the text to its content.
//! 2. `export default <x>` at the start: `<x>` is evaluated as an expression (a function result
//!    is called), falling back to the remaining text as a function body.
//! 3. Otherwise, the whole text as a single expression (so `1 + 1`, `async () => 5` and a lone
//!    `function main() {…}` work; a function result is called), falling back to the text
//!    verbatim as the body of an async function (`return …`, top-level `await`, statements).

/// One way of reading the submitted code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Script text that evaluates to an async arrow function.
    pub source: String,
    /// The function returns the value of a single expression; a function value is then called.
    pub is_expression: bool,
}

/// The candidates for `code`, most specific first. Never empty.
pub(crate) fn candidates(code: &str) -> Vec<Candidate> {
    let code = fenced_block(code).unwrap_or(code);
    let trimmed = code.trim();

    let (expression_text, body_text) = match strip_export_default(trimmed) {
        Some(rest) => (rest, rest),
        None => (trimmed, code),
    };

    let mut out = Vec::with_capacity(2);
    let expression = strip_statement_end(expression_text);
    if !expression.is_empty() && !starts_with_statement_keyword(expression) {
        out.push(Candidate {
            // The closing parenthesis sits on its own line so a trailing `//` comment is harmless;
            // nothing precedes the expression on its line, so line numbers stay those of the input.
            source: format!("(async () => ({expression}\n))"),
            is_expression: true,
        });
    }
    out.push(Candidate {
        source: format!("(async () => {{{body_text}\n}})"),
        is_expression: false,
    });
    out
}

/// The content of the first fenced code block, if the text has one.
fn fenced_block(text: &str) -> Option<&str> {
    let open = text.find("```")?;
    let after_ticks = &text[open + 3..];
    // The rest of the opening line is the (optional) language tag.
    let content_start = match after_ticks.find('\n') {
        Some(newline) => newline + 1,
        // A one-line fence (```code```): no language tag.
        None => 0,
    };
    let content = &after_ticks[content_start..];
    let content = match content.find("```") {
        Some(close) => &content[..close],
        None => content,
    };
    Some(content)
}

/// `export default <rest>` → `<rest>`.
fn strip_export_default(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("export")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim_start().strip_prefix("default")?;
    let boundary = rest
        .chars()
        .next()
        .is_some_and(|c| c.is_whitespace() || matches!(c, '(' | '{' | '[' | '"' | '\'' | '`'));
    if !boundary {
        return None;
    }
    Some(rest.trim_start())
}

/// Keywords that can never begin an expression (the engine compiles in strict mode, where `let`
/// is reserved), so text starting with one is only ever a function body.
pub(crate) const STATEMENT_KEYWORDS: &[&str] = &[
    "return", "const", "let", "var", "if", "for", "while", "do", "try", "throw", "switch",
];

/// Whether `text` starts with a [`STATEMENT_KEYWORDS`] word. Skipping the expression reading
/// then saves compiling a candidate that would only be a `SyntaxError` (and, for long scripts,
/// QuickJS's look-ahead over every parenthesised stretch of it).
fn starts_with_statement_keyword(text: &str) -> bool {
    STATEMENT_KEYWORDS.iter().any(|keyword| {
        text.strip_prefix(keyword).is_some_and(|rest| {
            !rest.chars().next().is_some_and(|c| {
                c.is_alphanumeric() || matches!(c, '_' | '$' | '\\') || !c.is_ascii()
            })
        })
    })
}

/// Drops trailing semicolons and whitespace, so `1 + 1;` reads as an expression.
fn strip_statement_end(text: &str) -> &str {
    text.trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_code_gives_expression_then_body() {
        let c = candidates("1 + 1;\n");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].source, "(async () => (1 + 1\n))");
        assert!(c[0].is_expression);
        assert_eq!(c[1].source, "(async () => {1 + 1;\n\n})");
        assert!(!c[1].is_expression);
    }

    #[test]
    fn fenced_block_content_is_used() {
        let c = candidates("Here you go:\n```ts\n6 * 7\n```\nthanks");
        assert_eq!(c[0].source, "(async () => (6 * 7\n))");
        assert_eq!(c[1].source, "(async () => {6 * 7\n\n})");
    }

    #[test]
    fn statement_keywords_give_only_a_body() {
        for code in [
            "return 6 * 7",
            "const x = 1; return x",
            "if(x) {}",
            "let [a] = [1]",
        ] {
            let c = candidates(code);
            assert_eq!(c.len(), 1, "{code}");
            assert!(!c[0].is_expression);
        }
        for code in [
            "returnValue",
            "do_it()",
            "letters.length",
            "constant",
            "if$",
            "forß",
        ] {
            assert_eq!(candidates(code).len(), 2, "{code}");
        }
    }

    #[test]
    fn unclosed_fence_takes_the_rest() {
        assert_eq!(fenced_block("```js\nreturn 1"), Some("return 1"));
        assert_eq!(fenced_block("no fence"), None);
    }

    #[test]
    fn export_default_is_stripped() {
        let c = candidates("export default 6 * 7;");
        assert_eq!(c[0].source, "(async () => (6 * 7\n))");
        assert_eq!(strip_export_default("export default(1)"), Some("(1)"));
        assert_eq!(strip_export_default("export defaults"), None);
        assert_eq!(strip_export_default("exported default 1"), None);
    }

    #[test]
    fn empty_code_has_only_a_body() {
        let c = candidates("  \n ");
        assert_eq!(c.len(), 1);
        assert!(!c[0].is_expression);
    }
}

//! Connection name normalisation and the provider item ids derived from a connection.
//!
//! Normalisation (`executor-behaviour.md` §3.6, §14 #6), reproduced exactly because the name is
//! part of every tool address:
//! 1. lowercase the whole input (Unicode default case mapping, as JS `toLowerCase`);
//! 2. the words are the maximal runs of ASCII `a-z0-9`; everything else (spaces, punctuation,
//!    `_`, `$`, non-ASCII letters, emoji) only separates words and is dropped;
//! 3. camel-join: the first word as is, every later word with its first character uppercased;
//! 4. no words at all ⇒ `connection`;
//! 5. a result that starts with a digit gets the prefix `connection`
//!    (`"1st key"` ⇒ `connection1stKey`).
//!
//! Consequences worth knowing: existing camel case is not preserved (`"MyAPIToken"` ⇒
//! `myapitoken`, lowercased before splitting), accented letters split words (`"café au lait"` ⇒
//! `cafAuLait`), and only two non-ASCII characters survive, because they lowercase to ASCII:
//! `İ` (U+0130 ⇒ `i` + combining dot) and the Kelvin sign (U+212A ⇒ `k`). The result always
//! satisfies [`is_identifier`] and is never empty.
//!
//! Normalisation is **not idempotent** (`myApiToken` ⇒ `myapitoken`). Upstream applies it only to
//! the `name` of `POST /connections` and of an OAuth mint; `GET`/`PATCH`/`DELETE
//! /connections/:owner/:integration/:name` and tool addresses use the stored name verbatim.

/// The fallback name, and the prefix for names that would start with a digit.
pub const FALLBACK: &str = "connection";

/// Normalises a user-supplied connection name to a camelCase JS identifier.
pub fn normalize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    // Whether the next kept character starts a word (true only after a separator).
    let mut at_word_start = false;
    for lowered in input.chars().flat_map(char::to_lowercase) {
        if lowered.is_ascii_lowercase() || lowered.is_ascii_digit() {
            if at_word_start && !out.is_empty() {
                out.push(lowered.to_ascii_uppercase());
            } else {
                out.push(lowered);
            }
            at_word_start = false;
        } else {
            at_word_start = true;
        }
    }
    if out.is_empty() {
        return FALLBACK.to_string();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        // The digit would be uppercased when joined after the prefix; digits have no case.
        out.insert_str(0, FALLBACK);
    }
    out
}

/// Whether `name` is already a JS identifier in the ASCII sense (`[A-Za-z_$][A-Za-z0-9_$]*`).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The variable a single pasted `value` is stored under.
pub const DEFAULT_VARIABLE: &str = "token";

/// Item id of a pasted connection input: `connection:<owner>:<integration>:<connection>:<variable>`.
pub fn connection_item_id(
    owner: &str,
    integration: &str,
    connection: &str,
    variable: &str,
) -> String {
    format!("connection:{owner}:{integration}:{connection}:{variable}")
}

/// Item id of an OAuth access token: `oauth:<owner>:<integration>:<connection>`.
pub fn oauth_access_item_id(owner: &str, integration: &str, connection: &str) -> String {
    format!("oauth:{owner}:{integration}:{connection}")
}

/// Item id of an OAuth refresh token: `oauth:<owner>:<integration>:<connection>:refresh`.
pub fn oauth_refresh_item_id(owner: &str, integration: &str, connection: &str) -> String {
    format!("oauth:{owner}:{integration}:{connection}:refresh")
}

/// Item id of an OAuth client secret: `oauth-client:<owner>:<client slug>:secret`.
pub fn oauth_client_secret_item_id(owner: &str, client_slug: &str) -> String {
    format!("oauth-client:{owner}:{client_slug}:secret")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Expected outputs were produced by running the reference algorithm in Node.
    const CASES: &[(&str, &str)] = &[
        ("My API token", "myApiToken"),
        ("main", "main"),
        ("", "connection"),
        ("   ", "connection"),
        ("\t\n", "connection"),
        ("1st key", "connection1stKey"),
        ("123", "connection123"),
        ("99 Bottles Of Beer", "connection99BottlesOfBeer"),
        ("MyAPIToken", "myapitoken"),
        ("camelCase", "camelcase"),
        ("PascalCase", "pascalcase"),
        ("API", "api"),
        ("my-api_token.v2", "myApiTokenV2"),
        ("snake_case_name", "snakeCaseName"),
        ("kebab-case-name", "kebabCaseName"),
        ("CONSTANT_CASE", "constantCase"),
        ("a  b   c", "aBC"),
        ("x1 2y", "x12y"),
        ("  Leading and trailing  ", "leadingAndTrailing"),
        ("__proto__", "proto"),
        ("$dollar", "dollar"),
        ("connection", "connection"),
        ("İstanbul key", "iStanbulKey"),
        ("\u{212A}ey", "key"),
        ("Ünïcödé name", "nCDName"),
        ("café au lait", "cafAuLait"),
        ("日本語", "connection"),
        ("日本語 key 2", "key2"),
        ("ｍａｉｎ", "connection"),
        ("🔑 token", "token"),
        ("GitHub (work) #2", "githubWork2"),
        ("prod/us-east-1", "prodUsEast1"),
        ("7", "connection7"),
        ("-7 up", "connection7Up"),
    ];

    #[test]
    fn normalises_like_the_reference() {
        for (input, expected) in CASES {
            let got = normalize(input);
            assert_eq!(&got, expected, "normalize({input:?})");
            assert!(is_identifier(&got), "{got:?} is not an identifier");
        }
    }

    #[test]
    fn normalising_a_camel_case_name_lowercases_it() {
        // Upstream lowercases before splitting, so normalisation is not idempotent: callers must
        // normalise only the name given on create / OAuth mint, never a name taken from a path.
        assert_eq!(normalize("myApiToken"), "myapitoken");
        assert_eq!(normalize(&normalize("My API token")), "myapitoken");
        assert_eq!(normalize("main"), normalize(&normalize("main")));
    }

    #[test]
    fn identifier_check() {
        for ok in ["a", "main", "_x", "$y", "myApiToken", "a1_$"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "my-name", "a b", "é", "a.b"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn item_ids() {
        assert_eq!(
            connection_item_id("org", "github", "main", DEFAULT_VARIABLE),
            "connection:org:github:main:token"
        );
        assert_eq!(
            oauth_access_item_id("org", "github", "main"),
            "oauth:org:github:main"
        );
        assert_eq!(
            oauth_refresh_item_id("org", "github", "main"),
            "oauth:org:github:main:refresh"
        );
        assert_eq!(
            oauth_client_secret_item_id("org", "myapp"),
            "oauth-client:org:myapp:secret"
        );
        assert_eq!(
            connection_item_id("user", "petstore", &normalize("My API token"), "api_key"),
            "connection:user:petstore:myApiToken:api_key"
        );
    }
}

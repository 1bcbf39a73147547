//! Operations and their tool names (executor-behaviour.md §8.1.2 order, §8.1.3 naming).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::document::OpenApiDocument;
use super::raw::{self, RawObject};

/// An HTTP method an OpenAPI path item may declare, in extraction order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpMethod {
    Get,
    Put,
    Post,
    Delete,
    Patch,
    Head,
    Options,
    Trace,
}

impl HttpMethod {
    /// Per path item, operations are read in this order.
    pub const ALL: [HttpMethod; 8] = [
        HttpMethod::Get,
        HttpMethod::Put,
        HttpMethod::Post,
        HttpMethod::Delete,
        HttpMethod::Patch,
        HttpMethod::Head,
        HttpMethod::Options,
        HttpMethod::Trace,
    ];

    /// The path-item key (`get`).
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Put => "put",
            HttpMethod::Post => "post",
            HttpMethod::Delete => "delete",
            HttpMethod::Patch => "patch",
            HttpMethod::Head => "head",
            HttpMethod::Options => "options",
            HttpMethod::Trace => "trace",
        }
    }

    /// The request method (`GET`).
    pub fn upper(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Head => "HEAD",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Trace => "TRACE",
        }
    }

    /// `POST`, `PUT`, `PATCH` and `DELETE` ask for approval by default (§8.1.4).
    pub fn requires_approval(self) -> bool {
        matches!(
            self,
            HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch | HttpMethod::Delete
        )
    }
}

/// What naming needs to know about one operation.
#[derive(Debug, Clone)]
pub(crate) struct OperationHead {
    pub path: String,
    pub method: HttpMethod,
    /// `operationId`, or `<method>_<path>` derived when absent.
    pub operation_id: String,
    pub tags: Vec<String>,
    /// `x-executor-toolPath`.
    pub tool_path: Option<String>,
}

/// Every operation of the document, paths in JavaScript string order, methods in
/// [`HttpMethod::ALL`] order. Path items and operations that are not objects are skipped.
/// The derivation re-reads path items the same way (see `tools::build`).
pub(crate) fn operation_heads(doc: &OpenApiDocument) -> Vec<OperationHead> {
    let mut heads = Vec::new();
    for (path, item) in doc.paths() {
        // A path item may itself be a `$ref` (OpenAPI 3.1 `components.pathItems`).
        let Some(item) = doc.deref(item).and_then(RawObject::parse) else {
            continue;
        };
        for method in HttpMethod::ALL {
            let Some(operation) = item.object(method.as_str()) else {
                continue;
            };
            let operation_id = operation
                .str("operationId")
                .filter(|id| !id.trim().is_empty())
                .unwrap_or_else(|| derived_operation_id(method, path));
            heads.push(OperationHead {
                path: path.to_owned(),
                method,
                operation_id,
                tags: operation
                    .get("tags")
                    .map(raw::string_list)
                    .unwrap_or_default(),
                tool_path: operation
                    .str("x-executor-toolPath")
                    .filter(|p| !p.trim().is_empty()),
            });
        }
    }
    heads
}

/// `<method>_<path with non-alphanumerics as _>`, trimmed of `_`.
fn derived_operation_id(method: HttpMethod, path: &str) -> String {
    let body: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{}_{}", method.as_str(), body)
        .trim_matches('_')
        .to_owned()
}

/// Splits on non-alphanumerics and case boundaries (`getHTTPResponse2xx` ⇒ get, HTTP,
/// Response2xx).
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            let next_lower = chars.peek().is_some_and(|n| n.is_ascii_lowercase());
            let boundary = c.is_ascii_uppercase()
                && (p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next_lower));
            if boundary && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(c);
        prev = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `camelCase`: words lowercased, the second and later capitalised.
pub(crate) fn camel_case(text: &str) -> String {
    let mut out = String::new();
    for (i, word) in words(text).iter().enumerate() {
        let lower = word.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            out.push_str(&capitalize(&lower));
        }
    }
    out
}

/// `PascalCase`.
pub(crate) fn pascal_case(text: &str) -> String {
    capitalize(&camel_case(text))
}

/// `v1`, `v2.1`, `V3`.
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix(['v', 'V']) else {
        return false;
    };
    !rest.is_empty()
        && rest
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

fn is_param(segment: &str) -> bool {
    segment.contains('{')
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn group_of(head: &OperationHead) -> String {
    if let Some(group) = head
        .tags
        .first()
        .map(|t| camel_case(t))
        .filter(|g| !g.is_empty())
    {
        return group;
    }
    segments(&head.path)
        .filter(|s| !is_version(s) && !is_param(s) && !s.eq_ignore_ascii_case("api"))
        .map(camel_case)
        .find(|g| !g.is_empty())
        .unwrap_or_else(|| "root".to_owned())
}

fn leaf_of(head: &OperationHead, group: &str) -> String {
    let parts: Vec<&str> = head
        .operation_id
        .split(['/', '.'])
        .filter(|s| !s.is_empty())
        .collect();
    let rest = match parts.split_first() {
        Some((first, rest)) if camel_case(first) == group => rest,
        _ => parts.as_slice(),
    };
    let leaf = camel_case(&rest.join(" "));
    if !leaf.is_empty() && leaf != group {
        return leaf;
    }
    let tail: String = segments(&head.path)
        .filter(|s| !is_param(s) && !is_version(s) && camel_case(s) != group)
        .map(pascal_case)
        .collect();
    if tail.is_empty() {
        format!("{}Operation", head.method.as_str())
    } else {
        format!("{}{tail}", head.method.as_str())
    }
}

/// 32-bit FNV-1a over UTF-16 code units, base36, left-padded to 8 characters.
fn short_hash(text: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for unit in text.encode_utf16() {
        hash ^= u32::from(unit);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let mut digits = Vec::new();
    let mut n = hash;
    loop {
        let d = (n % 36) as u8;
        digits.push(if d < 10 { b'0' + d } else { b'a' + d - 10 });
        n /= 36;
        if n == 0 {
            break;
        }
    }
    while digits.len() < 8 {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits)
        .unwrap_or_default()
        .chars()
        .take(8)
        .collect()
}

fn hash_input(head: &OperationHead) -> String {
    let quote = |s: &str| {
        let mut out = String::new();
        super::yaml::push_json_string(&mut out, s);
        out
    };
    format!(
        "{{\"method\":{},\"path\":{},\"operationId\":{}}}",
        quote(head.method.as_str()),
        quote(&head.path),
        quote(&head.operation_id)
    )
}

/// Indices of names that occur more than once.
fn colliding(names: &[String]) -> Vec<usize> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for name in names {
        *counts.entry(name.as_str()).or_default() += 1;
    }
    names
        .iter()
        .enumerate()
        .filter(|(_, n)| counts.get(n.as_str()).copied().unwrap_or(0) > 1)
        .map(|(i, _)| i)
        .collect()
}

/// Final, unique tool names for `heads` (same order as `heads`).
///
/// `group.leaf` per operation (an explicit `x-executor-toolPath` verbatim); collisions are then
/// resolved in rounds, each applied only to names that still collide: (1) `group.<version>.leaf`
/// when the path has a version segment, (2) append the PascalCase method, (3) append an 8-character
/// hash of `{method, path, operationId}`. Explicit names only take part in round 3. A last round
/// appends `2`, `3`, … should anything still collide (only possible with hash collisions).
pub(crate) fn assign_names(heads: &[OperationHead]) -> Vec<String> {
    struct Parts {
        group: String,
        leaf: String,
        explicit: bool,
    }
    let parts: Vec<Parts> = heads
        .iter()
        .map(|head| match &head.tool_path {
            Some(path) => Parts {
                group: String::new(),
                leaf: path.clone(),
                explicit: true,
            },
            None => {
                let group = group_of(head);
                let leaf = leaf_of(head, &group);
                Parts {
                    group,
                    leaf,
                    explicit: false,
                }
            }
        })
        .collect();
    let mut names: Vec<String> = parts
        .iter()
        .map(|p| {
            if p.explicit {
                p.leaf.clone()
            } else {
                format!("{}.{}", p.group, p.leaf)
            }
        })
        .collect();

    for i in colliding(&names) {
        let (Some(p), Some(head)) = (parts.get(i), heads.get(i)) else {
            continue;
        };
        if p.explicit {
            continue;
        }
        if let Some(version) = segments(&head.path).find(|s| is_version(s)) {
            if let Some(name) = names.get_mut(i) {
                *name = format!("{}.{version}.{}", p.group, p.leaf);
            }
        }
    }
    for i in colliding(&names) {
        let (Some(p), Some(head), Some(name)) = (parts.get(i), heads.get(i), names.get_mut(i))
        else {
            continue;
        };
        if !p.explicit {
            name.push_str(&pascal_case(head.method.as_str()));
        }
    }
    for i in colliding(&names) {
        if let (Some(head), Some(name)) = (heads.get(i), names.get_mut(i)) {
            name.push_str(&short_hash(&hash_input(head)));
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for name in names.iter_mut() {
        let count = seen.entry(name.clone()).or_default();
        *count += 1;
        if *count > 1 {
            let mut n = *count;
            loop {
                let candidate = format!("{name}{n}");
                if !seen.contains_key(&candidate) {
                    *name = candidate;
                    seen.insert(name.clone(), 1);
                    break;
                }
                n += 1;
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn head(method: HttpMethod, path: &str, id: &str, tags: &[&str]) -> OperationHead {
        OperationHead {
            path: path.into(),
            method,
            operation_id: if id.is_empty() {
                derived_operation_id(method, path)
            } else {
                id.into()
            },
            tags: tags.iter().map(|t| t.to_string()).collect(),
            tool_path: None,
        }
    }

    fn name(method: HttpMethod, path: &str, id: &str, tags: &[&str]) -> String {
        assign_names(&[head(method, path, id, tags)]).remove(0)
    }

    #[test]
    fn case_conversion() {
        assert_eq!(camel_case("listPets"), "listPets");
        assert_eq!(camel_case("get-content"), "getContent");
        assert_eq!(camel_case("getHTTPResponse"), "getHttpResponse");
        assert_eq!(
            camel_case("Zone-Level Access applications"),
            "zoneLevelAccessApplications"
        );
        assert_eq!(camel_case("v2Users"), "v2Users");
        assert_eq!(camel_case("__"), "");
        assert_eq!(pascal_case("post"), "Post");
        assert_eq!(
            derived_operation_id(HttpMethod::Get, "/pets/{petId}"),
            "get__pets__petId"
        );
    }

    #[test]
    fn reference_examples() {
        use HttpMethod::*;
        assert_eq!(name(Get, "/greet", "getGreeting", &[]), "greet.getGreeting");
        assert_eq!(name(Get, "/ping", "ping", &[]), "ping.getOperation");
        assert_eq!(
            name(Get, "/echo/{message}", "echoMessage", &[]),
            "echo.echoMessage"
        );
        assert_eq!(
            name(Get, "/pets/{petId}", "getPet", &["pets"]),
            "pets.getPet"
        );
        assert_eq!(
            name(Get, "/store/inventory", "getInventory", &["store"]),
            "store.getInventory"
        );
        assert_eq!(
            name(Get, "/items", "items.listItems", &["items"]),
            "items.listItems"
        );
        assert_eq!(
            name(Get, "/repos/{owner}", "repos/get", &["repos"]),
            "repos.get"
        );
    }

    #[test]
    fn groups_and_fallback_leaves() {
        use HttpMethod::*;
        assert_eq!(
            name(Get, "/api/v2/users/{id}", "", &[]),
            "users.getApiV2UsersId"
        );
        assert_eq!(
            name(Get, "/api/v2/users/{id}/keys", "users", &[]),
            "users.getApiKeys"
        );
        assert_eq!(name(Post, "/{id}", "", &[]), "root.postId");
        assert_eq!(name(Post, "/", "", &[]), "root.post");
        assert_eq!(name(Delete, "/", "root", &[]), "root.deleteOperation");
        assert_eq!(name(Get, "/x", "", &["---"]), "x.getX");
    }

    #[test]
    fn collisions_resolve_in_rounds() {
        use HttpMethod::*;
        let heads = vec![
            head(Get, "/v1/users", "list", &["users"]),
            head(Get, "/v2/users", "list", &["users"]),
            head(Get, "/things", "fetch", &["t"]),
            head(Post, "/things", "fetch", &["t"]),
            head(Get, "/a", "same", &["g"]),
            head(Get, "/b", "same", &["g"]),
            head(Get, "/solo", "solo", &["s"]),
        ];
        let names = assign_names(&heads);
        assert_eq!(names[0], "users.v1.list");
        assert_eq!(names[1], "users.v2.list");
        assert_eq!(names[2], "t.fetchGet");
        assert_eq!(names[3], "t.fetchPost");
        assert!(names[4].starts_with("g.sameGet") && names[4].len() == "g.sameGet".len() + 8);
        assert!(names[5].starts_with("g.sameGet") && names[4] != names[5]);
        assert_eq!(names[6], "s.solo");
        // Deterministic.
        assert_eq!(assign_names(&heads), names);
    }

    #[test]
    fn explicit_tool_paths_win_and_stay_unique() {
        let mut a = head(HttpMethod::Get, "/a", "x", &[]);
        a.tool_path = Some("custom.path".into());
        let mut b = head(HttpMethod::Get, "/b", "y", &[]);
        b.tool_path = Some("custom.path".into());
        let names = assign_names(&[a.clone()]);
        assert_eq!(names, ["custom.path"]);
        let names = assign_names(&[a, b]);
        assert_ne!(names[0], names[1]);
        assert!(names.iter().all(|n| n.starts_with("custom.path")));
    }

    #[test]
    fn hashes_are_stable_and_padded() {
        assert_eq!(short_hash("").len(), 8);
        assert_eq!(short_hash("abc"), short_hash("abc"));
        assert_ne!(short_hash("abc"), short_hash("abd"));
    }
}

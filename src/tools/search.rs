//! `tools.search` (executor-behaviour.md §7.3, §8.10): a precomputed in-memory index and the
//! reference ranking.
//!
//! Every entry's fields are normalised and tokenised once, when the index is built (or loaded);
//! a query normalises its own text once and then scores each entry with string comparisons only,
//! without allocating per entry.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default page size of `tools.search`.
pub const DEFAULT_LIMIT: usize = 12;

const W_PATH: u32 = 12;
const W_NAME: u32 = 10;
const W_INTEGRATION: u32 = 8;
const W_DESCRIPTION: u32 = 5;

/// One searchable tool. `path` is the address without the leading `tools.`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolEntry {
    pub path: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub integration: String,
}

/// One normalised field: the normalised text and its tokens as ids into the index vocabulary.
#[derive(Debug, Clone, Default)]
struct Field {
    text: Box<str>,
    tokens: Box<[u32]>,
}

#[derive(Debug, Clone)]
struct Prepared {
    path: Field,
    name: Field,
    integration: Field,
    description: Field,
}

/// Distinct tokens of an index; built once, so a query classifies each distinct token once.
#[derive(Debug, Clone, Default)]
struct Vocabulary {
    tokens: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32, BuildHasherDefault<Fnv>>,
}

/// FNV-1a: tokens are short, and SipHash's DoS resistance buys nothing for catalog text.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

impl Vocabulary {
    fn field(&mut self, raw: &str) -> Field {
        let text = normalize(raw);
        let tokens = token_spans(&text)
            .into_iter()
            .map(|(s, e)| self.id(&text[s as usize..e as usize]))
            .collect();
        Field {
            text: text.into_boxed_str(),
            tokens,
        }
    }

    fn id(&mut self, token: &str) -> u32 {
        if let Some(id) = self.ids.get(token) {
            return *id;
        }
        let id = self.tokens.len() as u32;
        self.tokens.push(token.into());
        self.ids.insert(token.into(), id);
        id
    }

    fn prepare(&mut self, entry: &ToolEntry) -> Prepared {
        Prepared {
            path: self.field(&entry.path),
            name: self.field(&entry.name),
            integration: self.field(&entry.integration),
            description: self.field(entry.description.as_deref().unwrap_or_default()),
        }
    }
}

/// Normalises text for matching: camelCase boundaries split, `_ . / : -` become spaces, lowercase,
/// whitespace runs collapsed to one space, trimmed.
pub fn normalize(raw: &str) -> String {
    if raw.is_ascii() {
        return normalize_ascii(raw.as_bytes());
    }
    let mut out = String::with_capacity(raw.len() + 8);
    let mut pending_space = false;
    let mut prev: Option<char> = None;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        let before = prev.replace(c);
        let (separator, upper) = if c.is_ascii() {
            (
                matches!(c, '_' | '.' | '/' | ':' | '-') || c.is_ascii_whitespace(),
                c.is_ascii_uppercase(),
            )
        } else {
            (c.is_whitespace(), c.is_uppercase())
        };
        if separator {
            pending_space = true;
            continue;
        }
        if upper {
            if let Some(p) = before {
                // `listPets` → `list Pets`; `HTTPServer` → `HTTP Server`.
                let split = if p.is_ascii_lowercase() || p.is_ascii_digit() {
                    true
                } else if p.is_ascii_uppercase() || (!p.is_ascii() && p.is_uppercase()) {
                    chars.peek().is_some_and(|n| n.is_lowercase())
                } else {
                    !p.is_ascii() && p.is_lowercase()
                };
                pending_space |= split;
            }
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// [`normalize`] for ASCII text (nearly all catalog text), byte by byte.
fn normalize_ascii(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len() + 8);
    let mut pending_space = false;
    for (i, &b) in raw.iter().enumerate() {
        if matches!(b, b'_' | b'.' | b'/' | b':' | b'-') || b.is_ascii_whitespace() {
            pending_space = true;
            continue;
        }
        if b.is_ascii_uppercase() && i > 0 {
            let p = raw[i - 1];
            if p.is_ascii_lowercase()
                || p.is_ascii_digit()
                || (p.is_ascii_uppercase() && raw.get(i + 1).is_some_and(u8::is_ascii_lowercase))
            {
                pending_space = true;
            }
        }
        if pending_space && !out.is_empty() {
            out.push(b' ');
        }
        pending_space = false;
        out.push(b.to_ascii_lowercase());
    }
    // Only ASCII bytes were pushed.
    String::from_utf8(out).unwrap_or_default()
}

fn token_spans(text: &str) -> Vec<(u32, u32)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (alnum, width) = if b < 0x80 {
            (b.is_ascii_alphanumeric(), 1)
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            (c.is_alphanumeric(), c.len_utf8())
        };
        if alnum {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            spans.push((s as u32, i as u32));
        }
        i += width;
    }
    if let Some(s) = start {
        spans.push((s as u32, text.len() as u32));
    }
    spans
}

/// Alphanumeric runs of already-normalised text.
fn tokens_of(text: &str) -> Vec<&str> {
    token_spans(text)
        .into_iter()
        .map(|(s, e)| &text[s as usize..e as usize])
        .collect()
}

/// The tools of one or more integrations, ready to rank.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    entries: Vec<ToolEntry>,
    prepared: Vec<Prepared>,
    vocabulary: Vocabulary,
}

/// Validated `tools.search` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    pub query: String,
    pub namespace: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            query: String::new(),
            namespace: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// Why `tools.search` arguments were refused (the sandbox rejects the promise with the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchArgsError {
    #[error("tools.search expects an object argument like {{ query: \"...\" }}")]
    NotAnObject,
    #[error("tools.search: `{0}` must be a string")]
    NotAString(&'static str),
    #[error("tools.search: `limit` must be a positive integer")]
    BadLimit,
    #[error("tools.search: `offset` must be a non-negative integer")]
    BadOffset,
}

fn optional_string(
    args: &serde_json::Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, SearchArgsError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(SearchArgsError::NotAString(key)),
    }
}

fn optional_count(
    args: &serde_json::Map<String, Value>,
    key: &str,
    min: f64,
) -> Result<Option<usize>, ()> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let v = n.as_f64().ok_or(())?;
            if !v.is_finite() || v < min || v.fract() != 0.0 {
                return Err(());
            }
            // Saturating: a huge limit simply means "everything".
            Ok(Some(if v >= usize::MAX as f64 {
                usize::MAX
            } else {
                v as usize
            }))
        }
        Some(_) => Err(()),
    }
}

impl SearchRequest {
    /// Validates the sandbox argument (`undefined`/`null` counts as `{}`).
    pub fn from_args(args: &Value) -> Result<Self, SearchArgsError> {
        let empty = serde_json::Map::new();
        let args = match args {
            Value::Null => &empty,
            Value::Object(map) => map,
            _ => return Err(SearchArgsError::NotAnObject),
        };
        Ok(SearchRequest {
            query: optional_string(args, "query")?.unwrap_or_default(),
            namespace: optional_string(args, "namespace")?,
            limit: optional_count(args, "limit", 1.0)
                .map_err(|()| SearchArgsError::BadLimit)?
                .unwrap_or(DEFAULT_LIMIT),
            offset: optional_count(args, "offset", 0.0)
                .map_err(|()| SearchArgsError::BadOffset)?
                .unwrap_or(0),
        })
    }
}

/// One ranked result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchItem {
    pub path: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub integration: String,
    pub score: u32,
}

/// A page of results, as the sandbox receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    pub items: Vec<SearchItem>,
    pub total: usize,
    pub has_more: bool,
    pub next_offset: Option<usize>,
}

impl SearchPage {
    pub fn empty() -> Self {
        SearchPage {
            items: Vec::new(),
            total: 0,
            has_more: false,
            next_offset: None,
        }
    }
}

/// Query tokens beyond this many (after de-duplication) are ignored.
pub const MAX_QUERY_TOKENS: usize = 64;

const NONE: u8 = 0;
const SUBSTRING: u8 = 1;
const PREFIX: u8 = 2;
const EXACT: u8 = 3;

/// A normalised query, classified against one index's vocabulary.
struct Query<'q> {
    text: &'q str,
    count: usize,
    /// `classes[token_id * count + i]`: how vocabulary token `token_id` matches query token `i`.
    classes: Vec<u8>,
    /// `any[token_id]`: the query tokens vocabulary token `token_id` matches at all, as bits.
    any: Vec<u64>,
}

impl<'q> Query<'q> {
    fn new(text: &'q str, tokens: &[&str], vocabulary: &Vocabulary) -> Self {
        let count = tokens.len();
        let mut classes = vec![NONE; vocabulary.tokens.len() * count];
        let mut any = vec![0u64; vocabulary.tokens.len()];
        for (id, t) in vocabulary.tokens.iter().enumerate() {
            for (i, q) in tokens.iter().enumerate() {
                let class = if **t == **q {
                    EXACT
                } else if t.starts_with(q) || q.starts_with(&**t) {
                    PREFIX
                } else if t.contains(q) {
                    SUBSTRING
                } else {
                    NONE
                };
                classes[id * count + i] = class;
                if class != NONE {
                    any[id] |= 1 << i;
                }
            }
        }
        Query {
            text,
            count,
            classes,
            any,
        }
    }

    fn class(&self, token: u32, i: usize) -> u8 {
        self.classes[token as usize * self.count + i]
    }
}

fn score_field(field: &Field, weight: u32, query: &Query<'_>, matched: &mut u64) -> (u32, bool) {
    let mut score = 0;
    let mut phrase = true;
    if *field.text == *query.text {
        score += 14 * weight;
    } else if field.text.starts_with(query.text) {
        score += 9 * weight;
    } else if field.text.contains(query.text) {
        score += 6 * weight;
    } else {
        phrase = false;
    }
    for i in 0..query.count {
        // A query token is alphanumeric, so it occurs in the field's text only inside one token:
        // the best class over the field's tokens covers exact, prefix and substring alike.
        let best = field
            .tokens
            .iter()
            .map(|&t| query.class(t, i))
            .max()
            .unwrap_or(NONE);
        let gained = match best {
            EXACT => 4 * weight,
            PREFIX => 2 * weight,
            SUBSTRING => weight,
            _ => 0,
        };
        if gained > 0 {
            score += gained;
            *matched |= 1 << i;
        }
    }
    (score, phrase)
}

/// Coverage below which an entry is dropped (an exact-phrase match in a field implies full
/// coverage, so the phrase exception never needs the scores).
fn covered(matched: u64, n: usize) -> bool {
    let hits = matched.count_ones() as usize;
    if n <= 2 {
        hits == n
    } else {
        hits as f64 / n as f64 >= 0.6
    }
}

fn score_entry(p: &Prepared, query: &Query<'_>) -> Option<u32> {
    // Cheap rejection first: one pass over the entry's tokens, no scoring.
    let mut reachable = 0u64;
    for field in [&p.path, &p.name, &p.integration, &p.description] {
        for &t in field.tokens.iter() {
            reachable |= query.any[t as usize];
        }
    }
    if !covered(reachable, query.count) {
        return None;
    }
    let mut matched = 0u64;
    let mut total = 0;
    let mut phrase = false;
    for (field, weight) in [
        (&p.path, W_PATH),
        (&p.name, W_NAME),
        (&p.integration, W_INTEGRATION),
        (&p.description, W_DESCRIPTION),
    ] {
        let (s, ph) = score_field(field, weight, query, &mut matched);
        total += s;
        phrase |= ph;
    }
    let n = query.count;
    let hits = matched.count_ones() as usize;
    let coverage = if n == 0 { 0.0 } else { hits as f64 / n as f64 };
    let required = if n <= 2 { 1.0 } else { 0.6 };
    if (coverage < required && !phrase) || total == 0 {
        return None;
    }
    if hits == n {
        total += 25;
    } else {
        total += (coverage * 10.0).round() as u32;
    }
    let leads = |f: &Field| {
        f.tokens
            .first()
            .is_some_and(|&t| query.class(t, 0) == EXACT)
    };
    if n > 0 && (leads(&p.path) || leads(&p.name)) {
        total += 8;
    }
    if *p.path.text == *query.text || *p.name.text == *query.text {
        total += 20;
    }
    Some(total)
}

/// Whether the namespace's tokens are a prefix of the integration's or the path's tokens.
fn in_namespace(p: &Prepared, vocabulary: &Vocabulary, namespace: &[&str]) -> bool {
    let prefix_of = |field: &Field| {
        field.tokens.len() >= namespace.len()
            && namespace
                .iter()
                .zip(field.tokens.iter())
                .all(|(ns, &t)| *vocabulary.tokens[t as usize] == **ns)
    };
    prefix_of(&p.integration) || prefix_of(&p.path)
}

fn dedup_tokens(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for t in tokens_of(text) {
        if !out.contains(&t) && out.len() < MAX_QUERY_TOKENS {
            out.push(t);
        }
    }
    out
}

struct Hit<'a> {
    score: u32,
    entry: &'a ToolEntry,
}

/// Ranks the entries of several indexes together (e.g. one per connection plus the built-in
/// tools). `exclude(path)` hides tools, e.g. the ones a policy blocks.
///
/// A blank query gives an empty page, unless a namespace is given: then every tool in the
/// namespace is listed (score 0, by path).
pub fn search_all(
    indexes: &[&SearchIndex],
    request: &SearchRequest,
    exclude: impl Fn(&str) -> bool,
) -> SearchPage {
    let query_text = normalize(&request.query);
    let namespace_text = request.namespace.as_deref().map(normalize);
    let namespace: Vec<&str> = namespace_text.as_deref().map(tokens_of).unwrap_or_default();
    let tokens = dedup_tokens(&query_text);
    let enumerate = tokens.is_empty();
    if enumerate && namespace.is_empty() {
        return SearchPage::empty();
    }
    let mut hits: Vec<Hit<'_>> = Vec::new();
    for index in indexes {
        let query = Query::new(&query_text, &tokens, &index.vocabulary);
        for (entry, p) in index.entries.iter().zip(&index.prepared) {
            if !namespace.is_empty() && !in_namespace(p, &index.vocabulary, &namespace) {
                continue;
            }
            let score = if enumerate {
                0
            } else {
                match score_entry(p, &query) {
                    Some(s) => s,
                    None => continue,
                }
            };
            if exclude(&entry.path) {
                continue;
            }
            hits.push(Hit { score, entry });
        }
    }
    crate::sort::sort_by(&mut hits, |a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.entry.path.cmp(&b.entry.path))
    });
    let total = hits.len();
    let start = request.offset.min(total);
    let end = start.saturating_add(request.limit).min(total);
    let items = hits[start..end]
        .iter()
        .map(|hit| SearchItem {
            path: hit.entry.path.clone(),
            name: hit.entry.name.clone(),
            description: hit.entry.description.clone(),
            integration: hit.entry.integration.clone(),
            score: hit.score,
        })
        .collect();
    let has_more = end < total;
    SearchPage {
        items,
        total,
        has_more,
        next_offset: has_more.then_some(end),
    }
}

/// The compact stored form: `[[path, name, description|null, integration], …]`.
#[derive(Serialize, Deserialize)]
struct StoredEntry<'a>(
    #[serde(borrow)] std::borrow::Cow<'a, str>,
    #[serde(borrow)] std::borrow::Cow<'a, str>,
    #[serde(borrow)] Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)] std::borrow::Cow<'a, str>,
);

impl SearchIndex {
    pub fn new(entries: Vec<ToolEntry>) -> Self {
        let mut vocabulary = Vocabulary::default();
        let prepared = entries.iter().map(|e| vocabulary.prepare(e)).collect();
        SearchIndex {
            entries,
            prepared,
            vocabulary,
        }
    }

    /// Approximate heap footprint in bytes (entries, normalised fields, vocabulary).
    pub fn heap_bytes(&self) -> usize {
        let entry = |e: &ToolEntry| {
            std::mem::size_of::<ToolEntry>()
                + e.path.capacity()
                + e.name.capacity()
                + e.integration.capacity()
                + e.description.as_ref().map_or(0, String::capacity)
        };
        let field = |f: &Field| f.text.len() + f.tokens.len() * 4;
        let prepared = |p: &Prepared| {
            std::mem::size_of::<Prepared>()
                + field(&p.path)
                + field(&p.name)
                + field(&p.integration)
                + field(&p.description)
        };
        let vocabulary: usize = self
            .vocabulary
            .tokens
            .iter()
            .map(|t| 2 * t.len() + 2 * std::mem::size_of::<Box<str>>() + 8)
            .sum();
        self.entries.iter().map(entry).sum::<usize>()
            + self.prepared.iter().map(prepared).sum::<usize>()
            + vocabulary
    }

    /// Distinct normalised tokens across the entries.
    pub fn vocabulary_len(&self) -> usize {
        self.vocabulary.tokens.len()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[ToolEntry] {
        &self.entries
    }

    /// The entry with exactly this path.
    pub fn get(&self, path: &str) -> Option<&ToolEntry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// Ranks this index alone.
    pub fn search(&self, request: &SearchRequest) -> SearchPage {
        search_all(&[self], request, |_| false)
    }

    /// Serialises the entries (not the derived tokens) as compact JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let stored: Vec<StoredEntry<'_>> = self
            .entries
            .iter()
            .map(|e| {
                StoredEntry(
                    e.path.as_str().into(),
                    e.name.as_str().into(),
                    e.description.as_deref().map(Into::into),
                    e.integration.as_str().into(),
                )
            })
            .collect();
        serde_json::to_vec(&stored).unwrap_or_else(|_| b"[]".to_vec())
    }

    /// Loads what [`SearchIndex::to_bytes`] wrote, re-deriving the tokens.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let stored: Vec<StoredEntry<'_>> = serde_json::from_slice(bytes)?;
        let entries = stored
            .into_iter()
            .map(
                |StoredEntry(path, name, description, integration)| ToolEntry {
                    path: path.into_owned(),
                    name: name.into_owned(),
                    description: description.map(|d| d.into_owned()),
                    integration: integration.into_owned(),
                },
            )
            .collect();
        Ok(SearchIndex::new(entries))
    }
}

/// `GET /api/tools?query=`: a case-insensitive plain substring test on `name + " " +
/// description` (executor-behaviour.md §3.5; no ranking there).
pub fn matches_list_query(name: &str, description: Option<&str>, query: &str) -> bool {
    let needle = query.to_lowercase();
    let haystack = format!("{} {}", name, description.unwrap_or_default()).to_lowercase();
    haystack.contains(&needle)
}

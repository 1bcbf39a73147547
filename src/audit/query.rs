//! `GET /api/audit` parameters and answer: filters, cursor paging and the row shape.
//!
//! Parameters (all optional, each at most once; anything else is a 400):
//! - `principal`: a subject or an email (exact);
//! - `address`: an address prefix (`tools.petstore.` or a whole address);
//! - `integration`: an integration slug (exact; `executor` for built-in tools);
//! - `decision`: one of [`Decision::ALL`];
//! - `outcome`: an outcome code (`ok`, `pending`, `not_run`, `upstream_http_error`, …);
//! - `from` (inclusive), `to` (exclusive): epoch milliseconds or RFC 3339 UTC/offset times
//!   (`2026-11-26T20:00:00Z`) or dates (`2026-11-26`, midnight UTC);
//! - `limit`: 1 or more, default [`DEFAULT_LIMIT`], capped at [`MAX_LIMIT`];
//! - `cursor`: the `nextCursor` of the previous page.

use std::fmt;

use serde_json::{json, Value};

use super::{Decision, MAX_ADDRESS_CHARS, MAX_OUTCOME_CHARS};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;
/// Largest integer D1 passes through a JavaScript number exactly.
const MAX_SAFE: i64 = (1 << 53) - 1;
const MAX_TEXT_CHARS: usize = 320;

/// A rejected parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("{field}: {message}")]
    InvalidFilter { field: String, message: String },
}

fn invalid(field: &str, message: impl Into<String>) -> AuditError {
    AuditError::InvalidFilter {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Where the previous page ended: the last row's `(time, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub time: i64,
    pub id: i64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.time, self.id)
    }
}

impl Cursor {
    fn parse(text: &str) -> Option<Cursor> {
        let (time, id) = text.split_once('.')?;
        let number = |t: &str| {
            t.parse::<i64>()
                .ok()
                .filter(|n| (0..=MAX_SAFE).contains(n) && t.bytes().all(|b| b.is_ascii_digit()))
        };
        Some(Cursor {
            time: number(time)?,
            id: number(id)?,
        })
    }
}

/// Validated filters of one page.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub principal: Option<String>,
    pub address: Option<String>,
    pub integration: Option<String>,
    pub decision: Option<Decision>,
    pub outcome: Option<String>,
    pub from: i64,
    pub to: i64,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            principal: None,
            address: None,
            integration: None,
            decision: None,
            outcome: None,
            from: 0,
            to: MAX_SAFE,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// Parses the decoded query parameters of `GET /api/audit`.
pub fn parse_filter(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<Filter, AuditError> {
    let mut filter = Filter::default();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in pairs {
        if seen.contains(&key) {
            return Err(invalid(&key, "given more than once"));
        }
        seen.push(key.clone());
        let text = |max: usize| -> Result<Option<String>, AuditError> {
            if value.is_empty() {
                return Ok(None);
            }
            if value.chars().count() > max {
                return Err(invalid(&key, format!("at most {max} characters")));
            }
            Ok(Some(value.clone()))
        };
        match key.as_str() {
            "principal" => filter.principal = text(MAX_TEXT_CHARS)?,
            "address" => filter.address = text(MAX_ADDRESS_CHARS)?,
            "integration" => filter.integration = text(MAX_TEXT_CHARS)?,
            "decision" if value.is_empty() => {}
            "decision" => {
                filter.decision = Some(Decision::parse(&value).ok_or_else(|| {
                    let names: Vec<&str> = Decision::ALL.iter().map(|d| d.as_str()).collect();
                    invalid("decision", format!("one of {}", names.join(", ")))
                })?);
            }
            "outcome" if value.is_empty() => {}
            "outcome" => {
                if super::outcome_code(&value) != value || value.len() > MAX_OUTCOME_CHARS {
                    return Err(invalid(
                        "outcome",
                        "an outcome code: lowercase letters, digits and _",
                    ));
                }
                filter.outcome = Some(value.clone());
            }
            "from" | "to" if value.is_empty() => {}
            "from" => filter.from = parse_time(&value).ok_or_else(|| bad_time("from"))?,
            "to" => filter.to = parse_time(&value).ok_or_else(|| bad_time("to"))?,
            "limit" => {
                filter.limit = match value.parse::<u64>() {
                    Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
                    _ => return Err(invalid("limit", "a whole number of at least 1")),
                }
            }
            "cursor" if value.is_empty() => {}
            "cursor" => {
                filter.cursor = Some(Cursor::parse(&value).ok_or_else(|| {
                    invalid("cursor", "not a cursor from a previous page's nextCursor")
                })?);
            }
            _ => {
                return Err(invalid(
                    &key,
                    "unknown parameter (principal, address, integration, decision, outcome, \
                     from, to, limit, cursor)",
                ))
            }
        }
    }
    if filter.from > filter.to {
        return Err(invalid("from", "must not be after `to`"));
    }
    Ok(filter)
}

fn bad_time(field: &str) -> AuditError {
    invalid(
        field,
        "epoch milliseconds, an RFC 3339 time (2026-11-26T20:00:00Z) or a date (2026-11-26)",
    )
}

/// Epoch milliseconds (0 to 2^53 - 1), `YYYY-MM-DD` (midnight UTC) or
/// `YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM)`.
pub fn parse_time(text: &str) -> Option<i64> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok().filter(|n| *n <= MAX_SAFE);
    }
    let digits = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, rest) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (year, month, day) = (
        digits(parts.next()?)?,
        digits(parts.next()?)?,
        digits(parts.next()?)?,
    );
    if parts.next().is_some()
        || date.len() != 10
        || !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    if let Some(rest) = rest {
        let (clock, offset_ms) = if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
            (clock, 0)
        } else {
            let i = rest.rfind(['+', '-'])?;
            let (clock, offset) = (&rest[..i], &rest[i..]);
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (h, m) = offset[1..].split_once(':')?;
            let (h, m) = (digits(h)?, digits(m)?);
            if h > 23 || m > 59 || offset.len() != 6 {
                return None;
            }
            (clock, sign * (h * 60 + m) * 60_000)
        };
        let (hms, fraction) = match clock.split_once('.') {
            Some((hms, fraction)) => (hms, Some(fraction)),
            None => (clock, None),
        };
        let mut fields = hms.split(':');
        let hour = digits(fields.next()?)?;
        let minute = digits(fields.next()?)?;
        let second = fields.next().map(digits).unwrap_or(Some(0))?;
        if fields.next().is_some() || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let millis = match fraction {
            None => 0,
            Some(f) => {
                digits(f)?;
                let padded: String = f.chars().chain("000".chars()).take(3).collect();
                padded.parse::<i64>().ok()?
            }
        };
        ms += ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset_ms;
    }
    (0..=MAX_SAFE).contains(&ms).then_some(ms)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One page of `GET /api/audit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One audit row as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: i64,
    /// Epoch milliseconds.
    pub time: i64,
    pub principal: Principal,
    pub address: String,
    pub integration: Option<String>,
    pub connection: Option<String>,
    pub decision: String,
    pub outcome: String,
    pub duration_ms: i64,
    pub http_status: Option<i64>,
    pub execution_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub subject: String,
    /// `null` for service tokens.
    pub email: Option<String>,
}

impl Page {
    /// `{items: [{id, time, principal: {subject, email}, address, integration, connection,
    /// decision, outcome, durationMs, httpStatus, executionId}], nextCursor}` (built by hand:
    /// a derived serializer costs Worker size).
    pub fn to_json(&self) -> Value {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|i| {
                json!({
                    "id": i.id,
                    "time": i.time,
                    "principal": {"subject": i.principal.subject, "email": i.principal.email},
                    "address": i.address,
                    "integration": i.integration,
                    "connection": i.connection,
                    "decision": i.decision,
                    "outcome": i.outcome,
                    "durationMs": i.duration_ms,
                    "httpStatus": i.http_status,
                    "executionId": i.execution_id,
                })
            })
            .collect();
        json!({ "items": items, "nextCursor": self.next_cursor })
    }
}

//! What a run observed from outside the JavaScript heap, so that a later run of the same code can
//! be driven to exactly the same state (a *replay*): how `Math.random` was seeded, what
//! `Date.now()` answered, and every settled tool call with its outcome, in the order the script
//! saw them.
//!
//! Determinism model. Inside the sandbox the only inputs are tool-call outcomes, the clock and
//! the random generator:
//!
//! - `Math.random` is a generator seeded once per execution ([`Journal::seed`]); a replay reuses
//!   the seed, so the sequence repeats without recording each value.
//! - The clock only moves when the host delivers outcomes (like `Date.now()` in a Worker, which
//!   only advances between I/O events): the script sees [`Journal::start`] until the first
//!   [`Batch`] is delivered, then that batch's `at`, and so on. `new Date()` and `Date()` read the
//!   same clock.
//! - Tool calls are numbered in the order the script makes them (`seq`, from 1). Outcomes are
//!   delivered in batches; a replay delivers the recorded batches in order, checking that each
//!   call was made again with the same path and arguments.
//!
//! A journal is kept in memory while the run goes on; past [`MAX_JOURNAL_BYTES`] of recorded
//! text it is dropped (the run goes on, but can no longer pause).

use std::fmt;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::HostReply;
use crate::json_fields::Fields;

/// Recorded text (paths, arguments, outcomes) a run may accumulate before its journal is dropped.
/// Keeps the paused execution row well below D1's 2 MB row limit.
pub const MAX_JOURNAL_BYTES: usize = 1024 * 1024;

/// Fixed cost charged per recorded call on top of its text (keys, numbers, punctuation).
const CALL_OVERHEAD_BYTES: usize = 48;

/// Everything a replay needs besides the code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Journal {
    /// Seed of the run's `Math.random` generator.
    pub seed: [u32; 4],
    /// What `Date.now()` answered before the first batch.
    pub start: f64,
    /// Delivered outcomes, in delivery order.
    pub batches: Vec<Batch>,
}

impl Journal {
    /// Reads a stored journal.
    pub fn parse(text: &str) -> Result<Journal, String> {
        let f = Fields::parse(text, &["seed", "start", "batches"], false)?;
        let seed = match f.value("seed")? {
            Value::Array(words) if words.len() == 4 => {
                let mut seed = [0u32; 4];
                for (slot, word) in seed.iter_mut().zip(&words) {
                    *slot = word
                        .as_u64()
                        .and_then(|w| u32::try_from(w).ok())
                        .ok_or("invalid type for field `seed`: expected 4 integers")?;
                }
                seed
            }
            _ => return Err("invalid type for field `seed`: expected 4 integers".into()),
        };
        Ok(Journal {
            seed,
            start: f.f64("start")?,
            batches: f
                .raw_items("batches")?
                .into_iter()
                .map(|b| Batch::parse(b.get()))
                .collect::<Result<_, _>>()?,
        })
    }

    /// A new journal for a fresh run starting at `now_ms`, with a random seed.
    pub fn fresh(now_ms: f64) -> Journal {
        let bytes = crate::ids::random_bytes::<16>();
        let mut seed = [0u32; 4];
        for (i, word) in seed.iter_mut().enumerate() {
            *word = u32::from_le_bytes([
                bytes[i * 4],
                bytes[i * 4 + 1],
                bytes[i * 4 + 2],
                bytes[i * 4 + 3],
            ]);
        }
        Journal {
            seed,
            start: now_ms,
            batches: Vec::new(),
        }
    }

    /// Approximate recorded size (what [`MAX_JOURNAL_BYTES`] limits).
    pub fn recorded_bytes(&self) -> usize {
        self.batches
            .iter()
            .flat_map(|b| &b.calls)
            .map(Settled::recorded_bytes)
            .sum()
    }
}

/// Outcomes delivered to the script together, and the clock from then on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batch {
    /// `Date.now()` from this batch on (epoch milliseconds).
    pub at: f64,
    pub calls: Vec<Settled>,
}

impl Batch {
    /// Reads a stored batch (a journal's, or a recorded decision).
    pub fn parse(text: &str) -> Result<Batch, String> {
        let f = Fields::parse(text, &["at", "calls"], false)?;
        Ok(Batch {
            at: f.f64("at")?,
            calls: f
                .raw_items("calls")?
                .into_iter()
                .map(|c| Settled::parse(c.get()))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// One settled tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settled {
    /// The call's number (1 = the script's first tool call).
    pub seq: u32,
    /// The sandbox path (`petstore.org.main.pets.getPet` for `tools.petstore.org.main.pets.getPet`).
    pub path: String,
    /// The first argument as JSON; absent when it was `undefined`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    pub reply: Recorded,
}

impl Settled {
    fn parse(text: &str) -> Result<Settled, String> {
        let f = Fields::parse(text, &["seq", "path", "args", "reply"], false)?;
        // A present `args` is `Some`, even when it is `null` (`tools.x(null)` is not `tools.x()`).
        let args = match f.raw("args") {
            Some(_) => Some(f.value("args")?),
            None => None,
        };
        let reply = f.raw("reply").ok_or("missing field `reply`")?;
        Ok(Settled {
            seq: f.u32("seq")?,
            path: f.string("path")?,
            args,
            reply: Recorded::parse(reply.get())?,
        })
    }

    pub(super) fn recorded_bytes(&self) -> usize {
        let args = self.args.as_ref().map(|a| a.to_string().len()).unwrap_or(0);
        let reply = match &self.reply {
            Recorded::Ok(raw) => raw.get().len(),
            Recorded::Err(message) => message.len(),
        };
        CALL_OVERHEAD_BYTES + self.path.len() + args + reply
    }
}

/// How a call settled: its promise resolved with this JSON, or rejected with this message.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Recorded {
    Ok(Box<RawValue>),
    Err(String),
}

impl Recorded {
    /// Reads `{"ok": <JSON>}` or `{"err": "<message>"}`.
    fn parse(text: &str) -> Result<Recorded, String> {
        let f = Fields::parse(text, &["ok", "err"], true)?;
        match (f.raw("ok"), f.raw("err")) {
            (Some(raw), None) => RawValue::from_string(raw.get().to_owned())
                .map(Recorded::Ok)
                .map_err(|e| e.to_string()),
            (None, Some(_)) => f.string("err").map(Recorded::Err),
            _ => Err("`reply` must have exactly one of `ok` or `err`".into()),
        }
    }

    /// A host reply as the journal keeps it. JSON text a host promised to be valid is checked
    /// here, so that what is recorded is exactly what the script is given.
    pub fn from_reply(reply: HostReply) -> Recorded {
        let text = match reply {
            HostReply::Resolve(value) => value.to_string(),
            HostReply::Json(text) => text,
            HostReply::Reject(message) => return Recorded::Err(message),
            HostReply::Pause(request) => {
                return Recorded::Err(format!("{} cannot pause here", request.address))
            }
        };
        // Every live outcome passes here before the script sees it (and before the journal
        // keeps it), so this is where an oversized result is turned away.
        let text = if text.len() > super::MAX_TOOL_RESULT_BYTES {
            super::tool_result_too_large(text.len())
        } else {
            text
        };
        match RawValue::from_string(text) {
            Ok(raw) => Recorded::Ok(raw),
            Err(e) => Recorded::Err(format!("the tool answered invalid JSON: {e}")),
        }
    }
}

impl PartialEq for Recorded {
    fn eq(&self, other: &Recorded) -> bool {
        match (self, other) {
            (Recorded::Ok(a), Recorded::Ok(b)) => a.get() == b.get(),
            (Recorded::Err(a), Recorded::Err(b)) => a == b,
            _ => false,
        }
    }
}

/// Why a replay stopped: the script did not make the recorded calls again. A replayed script
/// only sees recorded inputs, so this means the code or the sandbox changed between the runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Call `seq` was made with another path or other arguments.
    #[error(
        "the script did not replay deterministically: call #{seq} was {found} this time but \
         {expected} when it was recorded"
    )]
    Mismatch {
        seq: u32,
        expected: String,
        found: String,
    },
    /// The recorded call `seq` was not made again before its outcome was due (or at all).
    #[error(
        "the script did not replay deterministically: recorded call #{seq} ({expected}) was not \
         made again"
    )]
    Missing { seq: u32, expected: String },
}

/// `tools.<path>(<args>)` for messages, with long arguments cut.
pub(super) fn describe_call(path: &str, args: Option<&Value>) -> String {
    struct Call<'a>(&'a str, Option<&'a Value>);
    impl fmt::Display for Call<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let args = self.1.map(Value::to_string).unwrap_or_default();
            let args: String = if args.chars().count() > 200 {
                args.chars().take(200).chain("…".chars()).collect()
            } else {
                args
            };
            write!(f, "tools.{}({args})", self.0)
        }
    }
    Call(path, args).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_with_raw_outcomes_and_null_arguments() {
        let journal = Journal {
            seed: [1, 2, 3, u32::MAX],
            start: 1_795_000_000_000.0,
            batches: vec![Batch {
                at: 1_795_000_000_500.0,
                calls: vec![
                    Settled {
                        seq: 1,
                        path: "a.b".into(),
                        args: Some(Value::Null),
                        // Key order of the upstream's JSON is kept.
                        reply: Recorded::Ok(
                            RawValue::from_string(r#"{"z":1,"a":2}"#.into()).unwrap(),
                        ),
                    },
                    Settled {
                        seq: 2,
                        path: "c".into(),
                        args: None,
                        reply: Recorded::Err("nope".into()),
                    },
                ],
            }],
        };
        let text = serde_json::to_string(&journal).unwrap();
        assert!(text.contains(r#""reply":{"ok":{"z":1,"a":2}}"#), "{text}");
        let back = Journal::parse(&text).unwrap();
        assert_eq!(back.seed, journal.seed);
        assert_eq!(back.batches[0].calls[0].args, Some(Value::Null));
        assert_eq!(back.batches[0].calls[1].args, None);
        assert_eq!(
            back.batches[0].calls[0].reply,
            journal.batches[0].calls[0].reply
        );
        assert_eq!(back.batches[0].calls[1].reply, Recorded::Err("nope".into()));
        assert_eq!(back.recorded_bytes(), journal.recorded_bytes());
    }

    #[test]
    fn fresh_journals_get_distinct_seeds() {
        assert_ne!(Journal::fresh(0.0).seed, Journal::fresh(0.0).seed);
    }

    #[test]
    fn calls_are_described_briefly() {
        assert_eq!(
            describe_call("a.b", Some(&json!({"x": 1}))),
            r#"tools.a.b({"x":1})"#
        );
        assert_eq!(describe_call("a", None), "tools.a()");
        let long = describe_call("a", Some(&json!("y".repeat(500))));
        assert!(long.ends_with("…)") && long.chars().count() < 220, "{long}");
    }
}

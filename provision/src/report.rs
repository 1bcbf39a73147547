//! Progress lines and the machine-readable summary of `up`, `plan` and `destroy`.
//!
//! Human mode: one line per resource on stderr (`   created D1 database `executor``),
//! warnings as `warning: …` on stderr, the final block on stdout. `--json`: nothing but
//! warnings on stderr, one JSON document on stdout.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// What happened to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    Deleted,
    Kept,
    Skipped,
    WouldCreate,
    WouldUpdate,
    WouldDelete,
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Kept => "kept",
            Action::Skipped => "skipped",
            Action::WouldCreate => "would create",
            Action::WouldUpdate => "would update",
            Action::WouldDelete => "would delete",
        }
    }

    /// Whether the action changes something remotely (or would).
    pub fn is_change(self) -> bool {
        !matches!(self, Action::Unchanged | Action::Kept | Action::Skipped)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One progress line.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub resource: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Collects steps and warnings, printing them as they come in human mode.
#[derive(Debug, Default)]
pub struct Reporter {
    pub json: bool,
    pub steps: Vec<Step>,
    pub warnings: Vec<String>,
}

impl Reporter {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            ..Self::default()
        }
    }

    pub fn step(
        &mut self,
        resource: impl Into<String>,
        action: Action,
        id: Option<&str>,
        detail: Option<String>,
    ) {
        let step = Step {
            resource: resource.into(),
            action,
            id: id.map(str::to_string),
            detail,
        };
        if !self.json {
            let mut line = format!("{:>12} {}", step.action.label(), step.resource);
            if let Some(id) = &step.id {
                line.push_str(&format!(" ({id})"));
            }
            if let Some(detail) = &step.detail {
                line.push_str(&format!(": {detail}"));
            }
            eprintln!("{line}");
        }
        self.steps.push(step);
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        let message = message.into();
        eprintln!("warning: {message}");
        self.warnings.push(message);
    }

    /// The JSON document printed by `--json`.
    pub fn document(
        &self,
        command: &str,
        ok: bool,
        outputs: Value,
        error: Option<String>,
    ) -> Value {
        let mut doc = serde_json::json!({
            "command": command,
            "ok": ok,
            "steps": self.steps,
            "warnings": self.warnings,
            "outputs": outputs,
        });
        if let Some(error) = error {
            doc["error"] = Value::String(error);
        }
        doc
    }
}

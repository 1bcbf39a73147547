//! The two typed failures of OpenAPI ingestion (executor-behaviour.md §2, §8.1.1).

/// Why a document could not be turned into tools.
///
/// The wire form is `{"_tag": tag(), "message": message()}` with status 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenApiError {
    /// The text is not a JSON or YAML object (`OpenApiParseError`).
    #[error("{0}")]
    Parse(String),
    /// The text parsed, but it is not an OpenAPI 3.x document with `paths`
    /// (`OpenApiExtractionError`).
    #[error("{0}")]
    Extraction(String),
}

/// Prefix of every parse error message; the bare prefix is upstream's whole message (wire 13).
pub const PARSE_PREFIX: &str = "Failed to parse OpenAPI document";

impl OpenApiError {
    /// `Parse` with the standard prefix and a detail.
    pub(crate) fn parse(detail: impl std::fmt::Display) -> Self {
        Self::Parse(format!("{PARSE_PREFIX}: {detail}"))
    }

    pub(crate) fn extraction(message: impl Into<String>) -> Self {
        Self::Extraction(message.into())
    }

    /// The wire discriminator (`_tag`).
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Parse(_) => "OpenApiParseError",
            Self::Extraction(_) => "OpenApiExtractionError",
        }
    }

    /// The user-facing message.
    pub fn message(&self) -> String {
        match self {
            Self::Parse(m) | Self::Extraction(m) => m.clone(),
        }
    }
}

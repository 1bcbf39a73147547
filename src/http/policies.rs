//! `/api/policies…` handlers. (Placeholder: no routes yet.)

use super::error::ApiError;
use super::{Request, Response};
use crate::app::App;

/// Answers this group's routes; `None` when the path is not one of them.
pub async fn route(
    _app: &App<'_>,
    _request: &Request,
    _segs: &[&str],
) -> Option<Result<Response, ApiError>> {
    None
}

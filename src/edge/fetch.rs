//! [`HttpClient`] over the Workers `fetch`: one hop, `redirect: "manual"`, an abort timer, and a
//! body cap checked against `content-length` before reading and against the bytes after.

use async_trait::async_trait;
use futures_util::future::{select, Either};
use worker::{Fetch, Headers, Method, RequestInit, RequestRedirect};

use crate::net::http::{FetchError, HttpClient, OutboundRequest, OutboundResponse};
use crate::net::ssrf::display_url;

pub struct EdgeHttp;

#[async_trait(?Send)]
impl HttpClient for EdgeHttp {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError> {
        let shown = display_url(&request.url);
        let network = |message: String| FetchError::Network {
            url: shown.clone(),
            message,
        };
        let headers = Headers::new();
        for (name, value) in &request.headers {
            // The message names the header, never its value.
            headers
                .append(name, value)
                .map_err(|_| network(format!("invalid header {name:?}")))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.clone()))
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual);
        if let Some(body) = &request.body {
            let array = js_sys::Uint8Array::from(body.as_slice());
            init.with_body(Some(array.into()));
        }
        let platform_request = worker::Request::new_with_init(&request.url, &init)
            .map_err(|e| network(e.to_string()))?;

        let controller = worker::AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Request(platform_request);
        let send = std::pin::pin!(fetch.send_with_signal(&signal));
        let timer = worker::Delay::from(std::time::Duration::from_millis(request.timeout_ms));
        let mut response = match select(send, timer).await {
            Either::Left((result, _)) => result.map_err(|e| network(e.to_string()))?,
            Either::Right(_) => {
                controller.abort();
                return Err(FetchError::Timeout {
                    url: shown,
                    timeout_ms: request.timeout_ms,
                });
            }
        };
        let too_large = || FetchError::TooLarge {
            url: shown.clone(),
            limit: request.max_body_bytes,
        };
        let declared = response
            .headers()
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > request.max_body_bytes) {
            return Err(too_large());
        }
        let status = response.status_code();
        let headers: Vec<(String, String)> = response
            .headers()
            .entries()
            .map(|(n, v)| (n.to_ascii_lowercase(), v))
            .collect();
        let body = response.bytes().await.map_err(|e| network(e.to_string()))?;
        if body.len() > request.max_body_bytes {
            return Err(too_large());
        }
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }
}

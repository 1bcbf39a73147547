//! [`HttpClient`] over the Workers `fetch`: one hop, `redirect: "manual"`, an abort timer, and a
//! body cap checked against `content-length` before reading and against the bytes after; `open`
//! hands a body over as a stream (legacy MCP SSE), each read bounded by the timeout.

use async_trait::async_trait;
use futures_util::future::{select, Either};
use worker::{Fetch, Headers, Method, RequestInit, RequestRedirect};

use crate::net::http::{
    BodyStream, FetchError, HttpClient, OutboundRequest, OutboundResponse, StreamingResponse,
};
use crate::net::ssrf::display_url;

pub struct EdgeHttp;

/// Sends one hop and waits for the headers, racing the abort timer. The controller is
/// answered too: dropping it would not cancel anything, but a stream keeps it for its lifetime.
async fn dispatch(
    request: &OutboundRequest,
    shown: &str,
) -> Result<(worker::Response, worker::AbortController), FetchError> {
    let network = |message: String| FetchError::Network {
        url: shown.to_owned(),
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
    let platform_request =
        worker::Request::new_with_init(&request.url, &init).map_err(|e| network(e.to_string()))?;

    let controller = worker::AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(platform_request);
    let send = std::pin::pin!(fetch.send_with_signal(&signal));
    let timer = worker::Delay::from(std::time::Duration::from_millis(request.timeout_ms));
    match select(send, timer).await {
        Either::Left((result, _)) => Ok((result.map_err(|e| network(e.to_string()))?, controller)),
        Either::Right(_) => {
            controller.abort();
            Err(FetchError::Timeout {
                url: shown.to_owned(),
                timeout_ms: request.timeout_ms,
            })
        }
    }
}

fn headers_of(response: &worker::Response) -> Vec<(String, String)> {
    response
        .headers()
        .entries()
        .map(|(n, v)| (n.to_ascii_lowercase(), v))
        .collect()
}

/// An open response body; aborting the fetch when dropped closes the upstream stream.
struct EdgeStream {
    stream: worker::ByteStream,
    controller: Option<worker::AbortController>,
    url: String,
    timeout_ms: u64,
}

impl Drop for EdgeStream {
    fn drop(&mut self) {
        if let Some(controller) = self.controller.take() {
            controller.abort();
        }
    }
}

#[async_trait(?Send)]
impl BodyStream for EdgeStream {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, FetchError> {
        use futures_util::StreamExt;
        let timer = worker::Delay::from(std::time::Duration::from_millis(self.timeout_ms));
        let next = self.stream.next();
        match select(next, timer).await {
            Either::Left((None, _)) => Ok(None),
            Either::Left((Some(Ok(bytes)), _)) => Ok(Some(bytes)),
            Either::Left((Some(Err(e)), _)) => Err(FetchError::Network {
                url: self.url.clone(),
                message: e.to_string(),
            }),
            Either::Right(_) => Err(FetchError::Timeout {
                url: self.url.clone(),
                timeout_ms: self.timeout_ms,
            }),
        }
    }
}

#[async_trait(?Send)]
impl HttpClient for EdgeHttp {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError> {
        let shown = display_url(&request.url);
        let (mut response, _controller) = dispatch(&request, &shown).await?;
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
        let headers = headers_of(&response);
        let body = response.bytes().await.map_err(|e| FetchError::Network {
            url: shown.clone(),
            message: e.to_string(),
        })?;
        if body.len() > request.max_body_bytes {
            return Err(too_large());
        }
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }

    async fn open(&self, request: OutboundRequest) -> Result<StreamingResponse, FetchError> {
        let shown = display_url(&request.url);
        let (mut response, controller) = dispatch(&request, &shown).await?;
        let status = response.status_code();
        let headers = headers_of(&response);
        let stream = response.stream().map_err(|e| FetchError::Network {
            url: shown.clone(),
            message: e.to_string(),
        })?;
        Ok(StreamingResponse {
            status,
            headers,
            body: Box::new(EdgeStream {
                stream,
                controller: Some(controller),
                url: shown,
                timeout_ms: request.timeout_ms,
            }),
        })
    }
}

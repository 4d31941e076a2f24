//! Connections: accepting, applying faults, and serving each request with hyper.
//!
//! Each connection serves one request (keep-alive is off), so the fault picked for a connection is the
//! fault of its request. When faults are queued, the request line is *peeked* (read without being
//! consumed) to find the method and path the fault must match; then:
//! - [`Fault::ResetBeforeRead`]: `SO_LINGER` 0 and drop, which sends a TCP RST;
//! - [`Fault::ResetAfterRead`] and [`Fault::Truncated`]: the request is read and answered by hand
//!   (raw bytes), since hyper cannot reset a connection or send a short body on purpose;
//! - every other fault (and none): hyper serves the request, and the fault decides the response.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use http::{Request, Response, StatusCode, header};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::{Fault, Shared, api};

/// The largest request body read (Twilio's own limit on a create is far below this).
const MAX_REQUEST_BODY: usize = 1024 * 1024;
/// The largest request head read by hand.
const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// How long to wait for a client to send its request line or body.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts connections until the task is aborted.
pub(super) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => shared.spawn(connection(Arc::clone(&shared), stream)),
            Err(error) => {
                tracing::debug!(target: "twilio_sms_testkit::mock", %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn connection(shared: Arc<Shared>, stream: TcpStream) {
    let any_fault = !shared.state().faults.is_empty();
    let fault = if any_fault {
        let line = peek_request_line(&stream).await;
        line.and_then(|(method, path)| shared.state().take_fault(&method, &path))
    } else {
        None
    };
    if let Some(fault) = &fault {
        tracing::debug!(target: "twilio_sms_testkit::mock", ?fault, "applying fault");
    }
    match fault {
        Some(Fault::ResetBeforeRead) => reset(stream),
        Some(Fault::ResetAfterRead { processed }) => reset_after_read(&shared, stream, processed).await,
        Some(Fault::Truncated) => truncated(&shared, stream).await,
        other => serve(shared, stream, other).await,
    }
}

/// Serves the connection's request with hyper, the fault (if any) deciding the response.
async fn serve(shared: Arc<Shared>, stream: TcpStream, fault: Option<Fault>) {
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let shared = Arc::clone(&shared);
        let fault = fault.clone();
        async move { Ok::<_, Infallible>(handle(&shared, request.map(Body::new), fault).await) }
    });
    let served = http1::Builder::new()
        .keep_alive(false)
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(error) = served {
        tracing::debug!(target: "twilio_sms_testkit::mock", %error, "connection ended with an error");
    }
}

async fn handle(shared: &Arc<Shared>, request: Request<Body>, fault: Option<Fault>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BODY).await else {
        api::receive(shared, &parts, &[]);
        return api::error(StatusCode::PAYLOAD_TOO_LARGE, 20001, "Request body too large");
    };
    let received = api::receive(shared, &parts, &body);
    match fault {
        Some(Fault::TooManyRequests { retry_after }) => {
            let mut response = api::error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
            if let Some(seconds) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
            }
            response
        }
        Some(Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match status {
                StatusCode::SERVICE_UNAVAILABLE => api::error(status, 20503, "Service Unavailable"),
                _ => api::error(status, 20500, "Internal Server Error"),
            }
        }
        Some(Fault::ProxyHtml { status }) => proxy_page(status),
        Some(Fault::HugeBody { bytes }) => huge(bytes),
        Some(Fault::Stall(duration)) => {
            let response = api::respond(shared, &parts, &received);
            tokio::time::sleep(duration).await;
            response
        }
        _ => api::respond(shared, &parts, &received),
    }
}

/// The page a proxy or load balancer answers with.
fn proxy_page(status: u16) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let page = format!(
        "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1></center>\r\n\
         <hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("text/html"));
    response
}

/// `200` with a valid JSON document of `bytes` bytes (at least the envelope's).
fn huge(bytes: usize) -> Response<Body> {
    const OPEN: &[u8] = b"{\"padding\":\"";
    const CLOSE: &[u8] = b"\"}";
    let mut body = Vec::with_capacity(bytes.max(OPEN.len() + CLOSE.len()));
    body.extend_from_slice(OPEN);
    body.resize(bytes.saturating_sub(CLOSE.len()).max(OPEN.len()), b'x');
    body.extend_from_slice(CLOSE);
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// Resets the connection: with `SO_LINGER` 0, closing the socket sends a TCP RST.
fn reset(stream: TcpStream) {
    if let Err(error) = stream.set_zero_linger() {
        tracing::debug!(target: "twilio_sms_testkit::mock", %error, "could not set SO_LINGER 0");
    }
    drop(stream);
}

async fn reset_after_read(shared: &Arc<Shared>, mut stream: TcpStream, processed: bool) {
    if let Some(request) = read_request(&mut stream).await {
        let (parts, body) = request.into_parts();
        let received = api::receive(shared, &parts, &body);
        if processed {
            drop(api::respond(shared, &parts, &received));
        }
    }
    reset(stream);
}

/// Processes the request, then writes the response head with the full `Content-Length` and only half
/// of the body, and closes.
async fn truncated(shared: &Arc<Shared>, mut stream: TcpStream) {
    let Some(request) = read_request(&mut stream).await else { return reset(stream) };
    let (parts, body) = request.into_parts();
    let received = api::receive(shared, &parts, &body);
    let (head, body) = api::respond(shared, &parts, &received).into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut raw = format!("HTTP/1.1 {}\r\n", head.status);
    for (name, value) in &head.headers {
        if name != header::CONTENT_LENGTH
            && let Ok(value) = value.to_str()
        {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    raw.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    let half = body.get(..body.len() / 2).unwrap_or_default();
    let written = async {
        stream.write_all(raw.as_bytes()).await?;
        stream.write_all(half).await?;
        stream.flush().await?;
        stream.shutdown().await
    };
    if let Err(error) = written.await {
        tracing::debug!(target: "twilio_sms_testkit::mock", %error, "writing the truncated response failed");
    }
}

/// The method and path (without query) of the request line, read without consuming anything.
async fn peek_request_line(stream: &TcpStream) -> Option<(String, String)> {
    let deadline = tokio::time::Instant::now() + READ_TIMEOUT;
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await.ok()?.ok()?;
        let seen = buf.get(..n)?;
        if let Some(end) = seen.iter().position(|&b| b == b'\n') {
            let line = core::str::from_utf8(seen.get(..end)?).ok()?;
            let mut words = line.split(' ');
            let method = words.next()?;
            let target = words.next()?;
            let path = target.split('?').next().unwrap_or(target);
            return Some((method.to_owned(), path.to_owned()));
        }
        if n == 0 || n == buf.len() || tokio::time::Instant::now() >= deadline {
            return None;
        }
        // The line is incomplete: peek returns at once while data is waiting, so pause before retrying.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Reads one HTTP/1.1 request by hand: the head, then a `Content-Length` body (no chunked bodies).
async fn read_request(stream: &mut TcpStream) -> Option<Request<Bytes>> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if data.len() > MAX_REQUEST_HEAD {
            return None;
        }
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(chunk.get(..n)?);
    };
    let head = core::str::from_utf8(data.get(..head_end)?).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let mut request = Request::builder().method(request_line.next()?).uri(request_line.next()?);
    let mut length = 0;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok()?;
        }
        request = request.header(name, value);
    }
    if length > MAX_REQUEST_BODY {
        return None;
    }
    let mut body = data.get(head_end + 4..)?.to_vec();
    while body.len() < length {
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(chunk.get(..n)?);
    }
    body.truncate(length);
    request.body(Bytes::from(body)).ok()
}

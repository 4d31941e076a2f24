//! Serving a router over HTTP/1.1 with read timeouts and a bound on open connections (feature `axum`).
//!
//! `axum::serve` sets no timer: a client whose request head never ends, whose body stops, who keeps an
//! idle connection open or stops reading the answers, holds its connection (a task, a socket and what
//! was buffered) forever.
//! [`serve`] is the same loop with the limits of [`ServeLimits`]:
//!
//! - **the request head** must arrive within the read timeout of the connection's start, or of the end of
//!   the previous answer on a kept-alive connection (hyper's `header_read_timeout`): a client that sends
//!   half a head, or keeps an idle connection, is disconnected when it expires;
//! - **the request body** must arrive whole within the read timeout of the head (a deadline, not an idle
//!   timer: a body trickled a byte at a time is cut too). The read fails, the [`webhook_router`]
//!   answers `408` with `Connection: close`, and the connection closes, its buffer freed;
//! - **an answer the client does not read**: a write that makes no progress for the read timeout (the
//!   client stopped reading, and the socket's buffers are full) closes the connection
//!   (`tokio-io-timeout`);
//! - **the number of open connections** is bounded: at the bound no more are accepted, and new ones wait
//!   in the kernel's listen queue until one closes (the queue holds 128 with tokio's
//!   `TcpListener::bind`; past it the kernel drops connection attempts and clients retry them);
//! - **request heads** are at most 64 KiB (hyper's read buffer; its default is about 400 KiB). Twilio's
//!   are about 1 KiB.
//!
//! The accept loop is written here because neither axum's `serve` nor hyper-util offers one with a
//! connection bound; each connection is hyper's, set up with its `http1::Builder`, and the graceful
//! shutdown is hyper-util's. The body deadline is written here because tower-http's `TimeoutBody`
//! restarts its timer at every chunk, so a client sending a byte every few seconds would never meet it.
//!
//! [`webhook_router`]: crate::router::webhook_router

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_io_timeout::TimeoutStream;

/// The largest request head read: hyper's read buffer (its minimum is 8 KiB, its default about 400 KiB).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long the accept loop rests after an error that is not about one connection (such as too many
/// open files), as axum's does.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// The limits [`serve`] applies: a read timeout for every request's head and body, and a bound on open
/// connections.
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
/// use twilio_sms::router::ServeLimits;
///
/// let limits = ServeLimits::default()
///     .with_read_timeout(Duration::from_secs(5))
///     .with_max_connections(NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN));
/// assert_eq!(limits.read_timeout(), Duration::from_secs(5));
/// assert_eq!(limits.max_connections().get(), 256);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServeLimits {
    read_timeout: Duration,
    max_connections: NonZeroUsize,
}

impl ServeLimits {
    /// The default read timeout: 10 seconds. Twilio sends a webhook's few kilobytes at once, and itself
    /// gives up on an answer after 15 seconds.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

    /// The default bound on open connections: 512. It stays under the usual limit of 1,024 open files
    /// a process (each connection is one), and bounds what stalled clients can hold: each open
    /// connection can buffer a request head (at most 64 KiB) and a body (at most the channel's
    /// [`BodyLimit`](crate::BodyLimit), 64 KiB by default), so about 64 MB in all at worst. Twilio needs
    /// far fewer: its requests are answered in about a millisecond (the `webhook_server` load test in the
    /// README served 45,000 requests a second over 64 connections).
    pub const DEFAULT_MAX_CONNECTIONS: NonZeroUsize = NonZeroUsize::MIN.saturating_add(511);

    /// The shortest read timeout: 1 millisecond (a zero timeout would close every connection at once).
    pub const MIN_READ_TIMEOUT: Duration = Duration::from_millis(1);

    /// The longest read timeout: one day (a longer timer could overflow the clock).
    pub const MAX_READ_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

    /// The default limits: [`DEFAULT_READ_TIMEOUT`](Self::DEFAULT_READ_TIMEOUT) and
    /// [`DEFAULT_MAX_CONNECTIONS`](Self::DEFAULT_MAX_CONNECTIONS).
    pub const DEFAULT: Self =
        Self { read_timeout: Self::DEFAULT_READ_TIMEOUT, max_connections: Self::DEFAULT_MAX_CONNECTIONS };

    /// These limits with another read timeout, kept between [`MIN_READ_TIMEOUT`](Self::MIN_READ_TIMEOUT)
    /// and [`MAX_READ_TIMEOUT`](Self::MAX_READ_TIMEOUT). A request's head must arrive within it (from the
    /// connection's start, or the previous answer), then its body within it (from the head); and a
    /// write to a client that stopped reading fails after it.
    #[must_use]
    pub fn with_read_timeout(self, timeout: Duration) -> Self {
        Self { read_timeout: timeout.clamp(Self::MIN_READ_TIMEOUT, Self::MAX_READ_TIMEOUT), ..self }
    }

    /// These limits with another bound on open connections (at most [`Semaphore::MAX_PERMITS`]).
    #[must_use]
    pub fn with_max_connections(self, max: NonZeroUsize) -> Self {
        let max = NonZeroUsize::new(max.get().min(Semaphore::MAX_PERMITS)).unwrap_or(NonZeroUsize::MIN);
        Self { max_connections: max, ..self }
    }

    /// The read timeout of a request's head, and of its body (also the longest a write may make no
    /// progress).
    #[must_use]
    pub const fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// The bound on open connections.
    #[must_use]
    pub const fn max_connections(&self) -> NonZeroUsize {
        self.max_connections
    }
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Serves `app` on `listener` over HTTP/1.1 with `limits` (see the [module](crate::router) for what they
/// do), forever. [`serve_with_shutdown`] stops on a signal.
///
/// Every accepted connection gets `TCP_NODELAY` (the answers are small and should go out at once).
/// Connection errors (a client gone, a timeout) are logged at `debug` level (target
/// `twilio_sms::router`), never with the request.
///
/// ```no_run
/// use twilio_sms::router::{ServeLimits, serve};
///
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// serve(listener, app, ServeLimits::default()).await;
/// # Ok(())
/// # }
/// ```
pub async fn serve(listener: TcpListener, app: Router, limits: ServeLimits) {
    serve_with_shutdown(listener, app, limits, std::future::pending()).await;
}

/// [`serve`], until `signal` completes: then no more connections are accepted, idle ones are closed, a
/// request in progress is answered (with `Connection: close`), and this returns once every connection
/// has closed. That wait is bounded by the read timeout, since a stalled client is disconnected when
/// it expires (and by the time the application takes to answer).
pub async fn serve_with_shutdown<F>(listener: TcpListener, app: Router, limits: ServeLimits, signal: F)
where
    F: Future<Output = ()>,
{
    let open = Arc::new(Semaphore::new(limits.max_connections.get()));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.read_timeout).max_buf_size(MAX_HEAD_BYTES);
    let service = TowerToHyperService::new(app);
    let mut signal = std::pin::pin!(signal);
    loop {
        // A slot first: at the bound, connections wait in the listen queue, not in memory here.
        let permit = tokio::select! {
            permit = Arc::clone(&open).acquire_owned() => permit,
            () = &mut signal => break,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut signal => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) if is_connection_error(&error) => {
                tracing::debug!(target: "twilio_sms::router", %error, "connection failed before it was accepted");
                continue;
            }
            Err(error) => {
                tracing::error!(target: "twilio_sms::router", %error, "accept failed: pausing");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    () = &mut signal => break,
                }
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(target: "twilio_sms::router", %error, "TCP_NODELAY not set");
        }
        // A write that makes no progress for the timeout (the client stopped reading) fails.
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.read_timeout));
        // Every request's body is read under a deadline of the read timeout from its head.
        let service = service.clone();
        let timeout = limits.read_timeout;
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let deadline = Instant::now().checked_add(timeout);
            let request = request.map(|body| Body::new(DeadlineBody { body, deadline, sleep: None }));
            hyper::service::Service::call(&service, request)
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(Box::pin(stream)), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(target: "twilio_sms::router", %error, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::debug!(target: "twilio_sms::router", "shutting down: waiting for open connections");
    graceful.shutdown().await;
}

/// Whether an accept error concerns only the connection being accepted (the loop goes on at once).
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// The error a request body gives when it has not arrived whole by its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the read timeout")]
pub(crate) struct BodyTimeout;

/// Whether `error` (or one of its sources) is a [`BodyTimeout`].
pub(crate) fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if error.is::<BodyTimeout>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// A request body that fails with [`BodyTimeout`] when it has not ended by `deadline`. The timer is set
/// only when the body has to wait for the network (a body that came with its head costs none).
struct DeadlineBody {
    body: Incoming,
    /// `None` when the deadline is past what the clock can hold (never, with the clamped timeouts).
    deadline: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl HttpBody for DeadlineBody {
    type Data = <Incoming as HttpBody>::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let Some(deadline) = this.deadline else { return Poll::Pending };
        let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_kept_within_what_the_server_can_use() {
        let limits = ServeLimits::default();
        assert_eq!(limits.read_timeout(), Duration::from_secs(10));
        assert_eq!(limits.max_connections().get(), 512);
        assert_eq!(limits.with_read_timeout(Duration::ZERO).read_timeout(), ServeLimits::MIN_READ_TIMEOUT);
        assert_eq!(limits.with_read_timeout(Duration::MAX).read_timeout(), ServeLimits::MAX_READ_TIMEOUT);
        let most = NonZeroUsize::new(usize::MAX).unwrap();
        assert_eq!(limits.with_max_connections(most).max_connections().get(), Semaphore::MAX_PERMITS);
    }

    #[test]
    fn a_body_timeout_is_found_among_the_sources() {
        let wrapped = axum::Error::new(axum::Error::new(BodyTimeout));
        assert!(is_body_timeout(&wrapped));
        assert!(!is_body_timeout(&axum::Error::new(std::io::Error::other("reset"))));
    }
}

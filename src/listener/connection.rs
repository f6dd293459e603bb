//! One client connection, after its TLS handshake: HTTP/1.1 or HTTP/2 (by
//! ALPN over TLS, or by prior knowledge), with our own header-read and idle
//! timeouts.
//!
//! hyper's HTTP/1 header timer also runs while a keep-alive connection
//! waits for its next request, which would make the idle timeout equal to
//! the header timeout. So the connection tracks its own state: bytes that
//! arrive while no request is in flight start the header clock; a request
//! reaching the application stops it; the idle clock runs while nothing at
//! all happens.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::{Shared, dispatch};
use crate::config::ListenConfig;

/// Serves requests on `stream`; `https` says whether it is the TLS
/// listener (else the plain one, which only redirects).
pub(super) async fn run<S>(
    stream: S,
    peer: SocketAddr,
    https: bool,
    shared: Arc<Shared>,
    _slot: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    let mut stopping = shared.stopping.clone();
    let settings = &shared.settings;
    let service = {
        let (activity, shared) = (activity.clone(), shared.clone());
        service_fn(move |request| {
            let in_flight = activity.begin();
            let shared = shared.clone();
            async move {
                let response = dispatch::handle(request, &shared, peer, https).await;
                drop(in_flight);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(128);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(settings);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(client = %peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = activity.request_started.notified() => {}
            () = tokio::time::sleep_until(deadline) => match activity.expired(settings) {
                Some(Expired::Header) => {
                    tracing::debug!(client = %peer, "closing a connection that did not send a whole request in time");
                    return;
                }
                Some(Expired::Idle) if !draining => {
                    connection.as_mut().graceful_shutdown();
                    draining = true;
                }
                Some(Expired::Idle) => return,
                None => {}
            },
            _ = stopping.changed(), if !draining => {
                connection.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
}

/// What the connection is doing, for its timeouts.
struct Activity {
    state: Mutex<State>,
    /// Woken when bytes of a new request start arriving, so that the header
    /// clock (shorter than the idle one) is applied at once.
    request_started: Notify,
}

struct State {
    in_flight: usize,
    idle_since: Instant,
    partial_since: Option<Instant>,
}

enum Expired {
    Header,
    Idle,
}

impl Activity {
    fn new() -> Self {
        let state = State { in_flight: 0, idle_since: Instant::now(), partial_since: None };
        Self { state: Mutex::new(state), request_started: Notify::new() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on_read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.partial_since.is_none() {
            state.partial_since = Some(Instant::now());
            drop(state);
            self.request_started.notify_one();
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.partial_since = None;
        InFlight(self.clone())
    }

    fn deadline(&self, settings: &ListenConfig) -> Instant {
        let state = self.state();
        match (state.in_flight, state.partial_since) {
            (0, Some(since)) => since + settings.header_read_timeout,
            (0, None) => state.idle_since + settings.idle_timeout,
            // Requests time out on their own (body read); check back later.
            _ => Instant::now() + settings.idle_timeout,
        }
    }

    fn expired(&self, settings: &ListenConfig) -> Option<Expired> {
        let state = self.state();
        let now = Instant::now();
        match (state.in_flight, state.partial_since) {
            (0, Some(since)) if now >= since + settings.header_read_timeout => Some(Expired::Header),
            (0, None) if now >= state.idle_since + settings.idle_timeout => Some(Expired::Idle),
            _ => None,
        }
    }
}

/// A request in flight; dropping it (also when the client goes away) ends it.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
    }
}

/// The socket, reporting reads to the connection's [`Activity`].
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

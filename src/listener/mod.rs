//! The binary's own HTTP listeners. They own the sockets and everything a
//! reverse proxy used to do at the connection level: TLS, the plain-HTTP
//! redirect, the connection cap, TLS handshake, header-read, body-read and
//! idle timeouts, the body cap, one access-log line per request, and
//! draining connections on shutdown. Each request is handed in-process to
//! the Rocket application (see [`dispatch`]); the DESIGN's "Serving" section
//! says why Rocket's own server is not used.

mod connection;
mod dispatch;
mod redirect;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rocket::local::asynchronous::Client;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::config::ListenConfig;
use crate::http::security::SecurityHeaders;

/// How many connections may wait in the kernel for `accept`.
const BACKLOG: u32 = 1024;

/// Binds the listening socket (port 0 picks a free port).
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // A restarted server can bind while the old connections sit in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// A bound socket and what it serves.
pub struct Endpoint {
    tcp: TcpListener,
    role: Role,
}

#[derive(Clone)]
enum Role {
    /// The application, over TLS.
    Https(TlsAcceptor),
    /// Plain HTTP: `/healthz`, and a redirect to HTTPS for everything else.
    Redirect,
}

impl Endpoint {
    pub fn https(tcp: TcpListener, tls: Arc<rustls::ServerConfig>) -> Self {
        Self { tcp, role: Role::Https(TlsAcceptor::from(tls)) }
    }

    pub fn redirect(tcp: TcpListener) -> Self {
        Self { tcp, role: Role::Redirect }
    }
}

/// What every connection needs, shared.
struct Shared {
    app: Client,
    settings: ListenConfig,
    headers: SecurityHeaders,
    /// Bounds the open connections of all endpoints together.
    slots: Arc<Semaphore>,
    stopping: watch::Receiver<bool>,
}

/// Serves connections on every endpoint until `shutdown` completes, then
/// stops accepting, lets in-flight requests finish within the grace period
/// and returns.
pub async fn serve(
    endpoints: Vec<Endpoint>,
    app: Client,
    settings: ListenConfig,
    shutdown: impl Future<Output = ()>,
) {
    let headers =
        app.rocket().state::<SecurityHeaders>().cloned().unwrap_or_else(|| SecurityHeaders::new(true));
    let max_connections = settings.max_connections;
    let (stop, stopping) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(max_connections));
    let shared = Arc::new(Shared { app, settings, headers, slots: slots.clone(), stopping });
    let mut accepting = JoinSet::new();
    for endpoint in endpoints {
        accepting.spawn(accept(endpoint, shared.clone()));
    }
    shutdown.await;
    let _ = stop.send(true);
    // The accept loops end on the stop signal and close their sockets.
    while accepting.join_next().await.is_some() {}
    let open = max_connections - slots.available_permits();
    tracing::info!(open_connections = open, "shutting down: no longer accepting connections");
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let grace = shared.settings.shutdown_grace;
    drop(shared);
    if tokio::time::timeout(grace, slots.acquire_many(all)).await.is_err() {
        let open = max_connections - slots.available_permits();
        tracing::warn!(
            open_connections = open,
            grace_s = grace.as_secs(),
            "connections still open after the grace period are closed"
        );
    }
}

async fn accept(endpoint: Endpoint, shared: Arc<Shared>) {
    let Endpoint { tcp, role } = endpoint;
    let mut stopping = shared.stopping.clone();
    let mut last_full_warning: Option<Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = stopping.changed() => break,
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::error!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // A slot is taken once a connection is there (not while waiting
        // for one), so that endpoints do not hold slots for each other.
        let permit = match shared.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // At the cap, this connection and those behind it (in the
                // kernel's backlog) wait until a slot frees up; idle ones
                // are closed after the idle timeout.
                if last_full_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = shared.settings.max_connections,
                        "connection limit reached"
                    );
                    last_full_warning = Some(Instant::now());
                }
                tokio::select! {
                    biased;
                    _ = stopping.changed() => break,
                    permit = shared.slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        tokio::spawn(start(stream, peer, role.clone(), shared.clone(), permit));
    }
}

/// Runs one connection: the TLS handshake within its timeout, then HTTP.
async fn start(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    role: Role,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    match role {
        Role::Redirect => connection::run(stream, peer, false, shared, permit).await,
        Role::Https(acceptor) => {
            let handshake =
                tokio::time::timeout(shared.settings.tls_handshake_timeout, acceptor.accept(stream));
            match handshake.await {
                Ok(Ok(tls)) => connection::run(tls, peer, true, shared, permit).await,
                Ok(Err(e)) => tracing::debug!(client = %peer, error = %e, "TLS handshake failed"),
                Err(_) => {
                    tracing::debug!(client = %peer, "closing a connection that did not finish the TLS handshake in time")
                }
            }
        }
    }
}

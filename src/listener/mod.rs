//! The binary's own HTTP listener. It owns the sockets and everything a
//! reverse proxy used to do at the connection level: the connection cap,
//! header-read, body-read and idle timeouts, the body cap, one access-log
//! line per request, and draining connections on shutdown. Each request is
//! handed in-process to the Rocket application (see [`dispatch`]); the
//! DESIGN's "Serving" section says why Rocket's own server is not used.

mod connection;
mod dispatch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rocket::local::asynchronous::Client;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::config::ListenConfig;

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

/// Serves connections until `shutdown` completes, then stops accepting,
/// lets in-flight requests finish within the grace period and returns.
pub async fn serve(
    listener: TcpListener,
    app: Client,
    settings: ListenConfig,
    shutdown: impl Future<Output = ()>,
) {
    let app = Arc::new(app);
    let settings = Arc::new(settings);
    let (stop, stopping) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let mut last_full_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // At the cap, new connections wait in the kernel's backlog
                // until a slot frees up (idle ones are closed after the idle
                // timeout).
                if last_full_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(max_connections = settings.max_connections, "connection limit reached");
                    last_full_warning = Some(Instant::now());
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::error!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        tokio::spawn(connection::run(stream, peer, app.clone(), settings.clone(), stopping.clone(), permit));
    }
    drop(listener);
    let open = settings.max_connections - slots.available_permits();
    tracing::info!(open_connections = open, "shutting down: no longer accepting connections");
    let _ = stop.send(true);
    let all = u32::try_from(settings.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(settings.shutdown_grace, slots.acquire_many(all)).await.is_err() {
        let open = settings.max_connections - slots.available_permits();
        tracing::warn!(
            open_connections = open,
            grace_s = settings.shutdown_grace.as_secs(),
            "connections still open after the grace period are closed"
        );
    }
}

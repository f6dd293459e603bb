//! A TCP forwarder to stand between the application and PostgreSQL, so that
//! tests can make the database go away and come back (a restart, an outage)
//! without touching the shared test server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Forwarder {
    pub port: u16,
    /// Bumped to drop every forwarded connection.
    generation: watch::Sender<u64>,
    /// While false, new connections are closed at once.
    up: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Forwarder {
    /// Forwards a free loopback port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), target)
    }

    /// Forwards a given listener's port to `target`.
    pub fn on(listener: TcpListener, target: SocketAddr) -> Self {
        let port = listener.local_addr().unwrap().port();
        let (generation, watcher) = watch::channel(0u64);
        let up = Arc::new(AtomicBool::new(true));
        let accepting = up.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue;
                }
                let mut cut = watcher.clone();
                // Only cuts from now on concern this connection.
                cut.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, generation, up, task }
    }

    /// Drops every open connection, as a database restart does.
    pub fn cut(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Refuses new connections (and drops the open ones) until `resume`.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut();
    }

    pub fn resume(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// `url` with its host and port replaced by the forwarder's.
    pub fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// The address of the PostgreSQL server behind a database URL.
pub fn target_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    url.socket_addrs(|| Some(5432)).unwrap()[0]
}

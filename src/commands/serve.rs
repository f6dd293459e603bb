//! `serve`: connect, migrate, build the application, listen, and drain on
//! SIGTERM or SIGINT.

use std::process::ExitCode;

use anyhow::Context;
use figment::Figment;
use rocket::local::asynchronous::Client;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::config::Config;
use crate::{app, listener};

pub async fn run(config: Config, figment: Figment) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // Signals are caught from the start: a SIGTERM while boot waits for the
    // database (or migrates) ends the process cleanly and at once.
    let shutdown = shutdown_signal()?;
    tokio::pin!(shutdown);
    let db = tokio::select! {
        db = super::open_db(&config) => db?,
        () = &mut shutdown => {
            tracing::info!("stopped during boot");
            return Ok(ExitCode::SUCCESS);
        }
    };
    let tcp = listener::bind(config.listen.address)
        .with_context(|| format!("cannot listen on {}", config.listen.address))?;
    let address = tcp.local_addr().context("cannot read the listening address")?;
    let settings = config.listen.clone();
    let rocket = app::build_rocket(figment, config, db.clone());
    let app = Client::untracked(rocket).await.context("cannot start the application")?;
    tracing::info!(
        %address,
        boot_ms = started.elapsed().as_millis() as u64,
        "listening on http://{address}"
    );
    listener::serve(tcp, app, settings, shutdown).await;
    db.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Completes on the first SIGTERM or SIGINT.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutting down");
    })
}

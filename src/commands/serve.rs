//! `serve`: connect, migrate, load the certificate, build the application,
//! listen (HTTPS, and plain HTTP that redirects), tell systemd (see
//! [`systemd`]), reload the certificate on SIGHUP, and drain on SIGTERM or
//! SIGINT.

use std::process::ExitCode;

use anyhow::Context;
use figment::Figment;
use rocket::local::asynchronous::Client;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

use crate::config::{CertificateSource, Config, ConfigError};
use crate::db::Db;
use crate::domain::SetupToken;
use crate::listener::Endpoint;
use crate::ops::BackupStatus;
use crate::tls::Certificates;
use crate::{app, listener, ops, store, systemd};

pub async fn run(config: Config, figment: Figment) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // Signals are caught from the start: a SIGTERM while boot waits for the
    // database (or migrates) ends the process cleanly and at once.
    let shutdown = shutdown_signal()?;
    tokio::pin!(shutdown);
    // Caught from the start too: SIGHUP's default action ends the process.
    let hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let db = tokio::select! {
        db = super::open_db(&config) => db?,
        () = &mut shutdown => {
            tracing::info!("stopped during boot");
            return Ok(ExitCode::SUCCESS);
        }
    };
    let (certificates, loaded) = match Certificates::load(&config.tls) {
        Ok(loaded) => loaded,
        // The operator's files are configuration: exit 78, not a restart loop.
        Err(e) if matches!(config.tls.certificate, CertificateSource::Files { .. }) => {
            return Err(ConfigError::Invalid { key: "tls.certs", message: format!("{e:#}") }.into());
        }
        Err(e) => return Err(e.context("cannot set up the self-signed certificate")),
    };
    tracing::info!(
        certificate = %loaded.path.display(),
        origin = loaded.origin,
        sha256 = %loaded.fingerprint,
        "TLS certificate"
    );
    let tls = certificates.server_config()?;
    let https = listener::bind(config.listen.address)
        .with_context(|| format!("cannot listen on {}", config.listen.address))?;
    let address = https.local_addr().context("cannot read the listening address")?;
    let mut endpoints = vec![Endpoint::https(https, tls)];
    let redirect_address = match config.listen.redirect_address {
        Some(plain) => {
            let tcp = listener::bind(plain).with_context(|| format!("cannot listen on {plain}"))?;
            let bound = tcp.local_addr().context("cannot read the listening address")?;
            endpoints.push(Endpoint::redirect(tcp));
            Some(bound)
        }
        None => None,
    };
    let mut settings = config.listen.clone();
    // With port 0, redirects point at the port that was actually bound.
    settings.address = address;
    let setup_origin = match &config.listen.public_url {
        Some(url) => url.to_string(),
        None => local_origin(address),
    };
    let backups = config.backups.clone();
    let rocket = app::build_rocket(figment, config, db.clone());
    let backup_status = rocket.state::<BackupStatus>().cloned();
    let app = Client::untracked(rocket).await.context("cannot start the application")?;
    let reloader = tokio::spawn(reload_on_hangup(certificates, hangup));
    tracing::info!(
        %address,
        boot_ms = started.elapsed().as_millis() as u64,
        "listening on https://{address}"
    );
    if let Some(plain) = redirect_address {
        tracing::info!(address = %plain, "redirecting http://{plain} to HTTPS");
    }
    offer_setup(&db, &setup_origin).await?;
    systemd::ready(&format!("serving https://{address}"));
    let watchdog = systemd::spawn_watchdog(db.clone());
    let schedule = backup_status.and_then(|status| ops::schedule::spawn(db.clone(), backups, status));
    let draining = async move {
        shutdown.await;
        systemd::stopping();
    };
    listener::serve(endpoints, app, settings, draining).await;
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    if let Some(schedule) = schedule {
        schedule.stop().await;
    }
    reloader.abort();
    db.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// While no account exists, logs a one-time link that creates the first
/// one (valid for [`SetupToken::VALIDITY`]; every boot makes a new one).
/// Also forgets sessions that have ended.
async fn offer_setup(db: &Db, origin: &str) -> anyhow::Result<()> {
    let ended = store::sessions::purge_expired(db).await.context("cannot purge ended sessions")?;
    if ended > 0 {
        tracing::debug!(sessions = ended, "forgot ended sessions");
    }
    if store::users::count(db).await.context("cannot count the accounts")? > 0 {
        return Ok(());
    }
    let token = store::setup::create(db).await.context("cannot create a setup link")?;
    let minutes = SetupToken::VALIDITY.whole_minutes();
    tracing::warn!(
        "no account exists yet: open {origin}/setup#{} within {minutes} minutes to create the admin account \
         (a restart makes a new link; or run `notes-appliance user add --admin NAME`)",
        token.expose()
    );
    Ok(())
}

/// `https://host[:port]` for a listening address. An unspecified address
/// (`0.0.0.0`) is reachable by the machine's name.
fn local_origin(address: std::net::SocketAddr) -> String {
    let host = if address.ip().is_unspecified() {
        // /proc/sys is hidden from the packaged service (ProcSubset=pid);
        // /etc/hostname is what Debian sets the name from.
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|name| name.trim().to_owned())
            .find(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    } else if address.is_ipv6() {
        format!("[{}]", address.ip())
    } else {
        address.ip().to_string()
    };
    match address.port() {
        443 => format!("https://{host}"),
        port => format!("https://{host}:{port}"),
    }
}

/// Reloads the certificate on every SIGHUP; a certificate that fails to
/// load is logged and the one in use kept.
async fn reload_on_hangup(certificates: std::sync::Arc<Certificates>, mut hangup: Signal) {
    while hangup.recv().await.is_some() {
        match certificates.reload() {
            Ok(loaded) => tracing::info!(
                certificate = %loaded.path.display(),
                sha256 = %loaded.fingerprint,
                "TLS certificate reloaded"
            ),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "TLS certificate not reloaded; keeping the one in use")
            }
        }
    }
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

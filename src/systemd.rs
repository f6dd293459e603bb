//! Telling systemd how the service is doing (`Type=notify`): `READY=1` once
//! migrations ran and every listener is bound, `STOPPING=1` when draining
//! starts, and `WATCHDOG=1` every half watchdog interval while the database
//! answers, so that systemd restarts a server that is up but cannot serve.
//! Outside systemd (no `NOTIFY_SOCKET`), every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::task::JoinHandle;

use crate::db::Db;

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("draining connections")]);
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Feeds systemd's watchdog, if the unit has one (`WatchdogSec=`), for as
/// long as the database answers within half the interval.
pub fn spawn_watchdog(db: Db) -> Option<JoinHandle<()>> {
    let timeout = sd_notify::watchdog_enabled()?;
    let every = timeout / 2;
    tracing::info!(
        interval_ms = timeout.as_millis() as u64,
        "feeding the systemd watchdog while the database answers"
    );
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut healthy = true;
        loop {
            ticks.tick().await;
            let answer = tokio::time::timeout(every.max(Duration::from_millis(100)), db.ping()).await;
            match answer {
                Ok(Ok(())) => {
                    if !healthy {
                        tracing::info!("the database answers again; feeding the watchdog");
                    }
                    healthy = true;
                    send(&[NotifyState::Watchdog]);
                }
                Ok(Err(e)) if healthy => {
                    healthy = false;
                    tracing::error!(error = %e, "the database does not answer; not feeding the watchdog");
                }
                Err(_) if healthy => {
                    healthy = false;
                    tracing::error!("the database did not answer in time; not feeding the watchdog");
                }
                _ => {}
            }
        }
    }))
}

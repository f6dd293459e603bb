//! `build_rocket`: the one place where routes, state, fairings and catchers
//! are wired. `serve` and the tests build the application through it.

use figment::Figment;
use rocket::{Build, Rocket};

use crate::config::Config;
use crate::db::Db;
use crate::http;

pub fn build_rocket(figment: Figment, config: Config, db: Db) -> Rocket<Build> {
    let security = http::security::SecurityHeaders::new(config.tls.hsts_include_subdomains);
    let metrics_on = config.metrics.enabled;
    let rocket = rocket::custom(figment)
        // An empty Shield replaces Rocket's default one: `security` owns
        // every security header.
        .attach(rocket::shield::Shield::new())
        .attach(security.clone())
        .manage(security)
        .manage(crate::ops::BackupStatus::scan(&config.backups))
        .manage(config)
        .manage(db)
        .manage(http::passwords::Passwords::default())
        .manage(http::throttle::LoginThrottle::default())
        .attach(http::compression::Compression)
        .mount("/", http::assets::routes())
        .mount("/", http::health::routes())
        .mount("/", http::openapi::routes())
        .mount("/", http::setup::page_routes())
        .mount("/api", http::notes::routes())
        .mount("/api", http::session::routes())
        .mount("/api", http::setup::routes())
        .mount("/api", http::tokens::routes())
        .mount("/api", http::users::routes())
        .register("/", http::catchers::catchers());
    if !metrics_on {
        // Off by default: `/metrics` is then an unknown address like any
        // other, and no request pays for counting.
        return rocket;
    }
    let metrics = crate::metrics::Metrics::default();
    // Attached last, so that the time and the status are those of the
    // response as the other fairings leave it.
    rocket.attach(metrics.clone()).manage(metrics).mount("/", http::metrics::routes())
}

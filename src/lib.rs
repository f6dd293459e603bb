//! notes-appliance: a self-hosted notes service in one binary.
//!
//! `main.rs` only parses the command line; everything else lives here so
//! that the tests drive exactly what production runs.

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod entity;
pub mod error;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod ops;
pub mod store;
pub mod systemd;
pub mod telemetry;
pub mod tls;

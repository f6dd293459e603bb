//! CLI tests: the compiled `notes-appliance` binary, run as an operator would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

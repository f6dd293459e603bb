//! `LoginThrottle`: failed logins limited per client address and per
//! username, so that neither one address nor many addresses aiming at one
//! account can guess passwords quickly. Each key has a bucket of
//! [`BURST`] attempts that refills by one every [`REFILL`]; a failed
//! attempt takes one from the address's bucket and the username's. When
//! either is empty, a login is answered 429 with `Retry-After` before any
//! password is checked (so the flood costs no hashing either).
//!
//! The state is in memory: each instance behind a load balancer keeps its
//! own, which still bounds the rate to the limit times the instances.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed in a row before waiting.
pub const BURST: f64 = 10.0;
/// One more attempt becomes available this often.
pub const REFILL: Duration = Duration::from_secs(60);
/// Beyond this many tracked keys, full buckets are forgotten (they carry no
/// information): memory stays bounded when many addresses fail.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// IPv4 addresses one by one; IPv6 by /64, which one client usually holds.
    Address([u8; 16]),
    Username(String),
}

impl Key {
    fn address(ip: Option<IpAddr>) -> Self {
        match ip {
            Some(IpAddr::V4(v4)) => Self::Address(v4.to_ipv6_mapped().octets()),
            Some(IpAddr::V6(v6)) => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                Self::Address(octets)
            }
            // In-process requests (tests) have no address; they share one bucket.
            None => Self::Address([0; 16]),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Self {
        Self { tokens: BURST, updated: now }
    }

    fn refill(&mut self, now: Instant) {
        let earned = now.saturating_duration_since(self.updated).as_secs_f64() / REFILL.as_secs_f64();
        self.tokens = (self.tokens + earned).min(BURST);
        self.updated = now;
    }

    /// How long until one attempt is available (zero if one is).
    fn wait(&self) -> Duration {
        if self.tokens >= 1.0 { Duration::ZERO } else { REFILL.mul_f64(1.0 - self.tokens) }
    }
}

#[derive(Default)]
pub struct LoginThrottle {
    buckets: Mutex<HashMap<Key, Bucket>>,
}

impl LoginThrottle {
    /// `Err(seconds to wait)` if an attempt from `address` for `username`
    /// must wait.
    pub fn check(&self, address: Option<IpAddr>, username: Option<&str>) -> Result<(), u64> {
        self.check_at(Instant::now(), address, username)
    }

    /// Records a failed attempt.
    pub fn fail(&self, address: Option<IpAddr>, username: Option<&str>) {
        self.fail_at(Instant::now(), address, username);
    }

    fn keys(address: Option<IpAddr>, username: Option<&str>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::address(address)).chain(username.map(|name| Key::Username(name.to_owned())))
    }

    fn check_at(&self, now: Instant, address: Option<IpAddr>, username: Option<&str>) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut wait = Duration::ZERO;
        for key in Self::keys(address, username) {
            if let Some(bucket) = buckets.get_mut(&key) {
                bucket.refill(now);
                wait = wait.max(bucket.wait());
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait.as_secs_f64().ceil() as u64) }
    }

    fn fail_at(&self, now: Instant, address: Option<IpAddr>, username: Option<&str>) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_KEYS {
            buckets.retain(|_, bucket| {
                bucket.refill(now);
                bucket.tokens < BURST
            });
            if buckets.len() >= MAX_KEYS {
                tracing::warn!(
                    keys = buckets.len(),
                    "too many failing login sources to track; starting over"
                );
                buckets.clear();
            }
        }
        for key in Self::keys(address, username) {
            let bucket = buckets.entry(key).or_insert_with(|| Bucket::full(now));
            bucket.refill(now);
            bucket.tokens = (bucket.tokens - 1.0).max(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])))
    }

    #[test]
    fn an_address_waits_after_a_burst_of_failures_and_recovers() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(throttle.check_at(start, ip("192.0.2.1"), Some("alice")), Ok(()));
            throttle.fail_at(start, ip("192.0.2.1"), None);
        }
        assert_eq!(throttle.check_at(start, ip("192.0.2.1"), Some("bob")), Err(60));
        assert_eq!(throttle.check_at(start + Duration::from_secs(30), ip("192.0.2.1"), None), Err(30));
        assert_eq!(throttle.check_at(start + REFILL, ip("192.0.2.1"), None), Ok(()));
        // Another address is not affected.
        assert_eq!(throttle.check_at(start, ip("192.0.2.2"), Some("carol")), Ok(()));
    }

    #[test]
    fn a_username_waits_after_failures_from_many_addresses() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..10u8 {
            throttle.fail_at(now, Some(IpAddr::from([198, 51, 100, i])), Some("alice"));
        }
        assert_eq!(throttle.check_at(now, ip("203.0.113.7"), Some("alice")), Err(60));
        assert_eq!(throttle.check_at(now, ip("203.0.113.7"), Some("bob")), Ok(()));
    }

    #[test]
    fn ipv6_addresses_share_a_bucket_per_64() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..10 {
            throttle.fail_at(now, ip(&format!("2001:db8:1:2::{i:x}")), None);
        }
        assert!(throttle.check_at(now, ip("2001:db8:1:2:ffff::1"), None).is_err());
        assert!(throttle.check_at(now, ip("2001:db8:1:3::1"), None).is_ok());
    }
}

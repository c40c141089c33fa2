//! Rate limits (governor), keyed per tenant and per kind, with each
//! tenant's quotas from its settings. A refusal is a 429 whose
//! `Retry-After` says when to try again.
//!
//! Limits on an identifier (an account, a phone number) would let anyone
//! lock its owner out by failing on purpose. So they count per identifier
//! *and address* at the tenant's rate, and per identifier from everywhere
//! only at [`GLOBAL_FACTOR`] times that: one address cannot lock anyone
//! out, and many addresses are still held back. Limits are per process.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use super::{TenantId, settings::Rate};
use crate::error::{AppError, AppResult};

/// What is being limited. Each kind has its own limiter per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    LoginPerIp,
    LoginPerAccount,
    OtpSendPerIp,
    OtpSendPerDestination,
    OtpVerifyPerIp,
    OtpVerifyPerDestination,
    MessagesPerParticipant,
    CallsPerParticipant,
    /// Password-reset and verification emails to one address.
    AccountMailPerDestination,
}

/// How much more an identifier may see from everywhere than from one address.
pub const GLOBAL_FACTOR: u32 = 5;

/// Whether a limiter counts per address or across all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    One,
    Everywhere,
}

type Limiter = DefaultKeyedRateLimiter<String>;
/// A limiter with the quota it was built for (rebuilt when that changes).
type Slot = (Quota, Arc<Limiter>);

/// Every limiter of the process.
#[derive(Default)]
pub struct Limits {
    limiters: Mutex<HashMap<(TenantId, Kind, Scope), Slot>>,
}

fn quota(rate: Rate) -> Quota {
    let max = NonZeroU32::new(rate.max.max(1)).expect("max is at least 1");
    let period = Duration::from_secs(rate.per_secs.max(1).into()) / max.get();
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .expect("a positive period")
        .allow_burst(max)
}

impl Limits {
    /// Counts one event for `key` (an address, a participant) and refuses
    /// it when over `rate`.
    pub fn check(&self, tenant: TenantId, kind: Kind, rate: Rate, key: &str) -> AppResult<()> {
        self.check_in(tenant, kind, Scope::One, rate, key)
    }

    /// Counts one event for an identifier seen from `address`: `rate` per
    /// identifier and address, [`GLOBAL_FACTOR`] times it per identifier.
    pub fn check_identifier(
        &self,
        tenant: TenantId,
        kind: Kind,
        rate: Rate,
        identifier: &str,
        address: &str,
    ) -> AppResult<()> {
        self.check_in(
            tenant,
            kind,
            Scope::One,
            rate,
            &format!("{identifier}\u{0}{address}"),
        )?;
        let everywhere = Rate::new(rate.max.saturating_mul(GLOBAL_FACTOR), rate.per_secs);
        self.check_in(tenant, kind, Scope::Everywhere, everywhere, identifier)
    }

    fn check_in(
        &self,
        tenant: TenantId,
        kind: Kind,
        scope: Scope,
        rate: Rate,
        key: &str,
    ) -> AppResult<()> {
        let quota = quota(rate);
        let limiter = {
            let mut limiters = self.limiters.lock().expect("limits lock");
            let entry = limiters
                .entry((tenant, kind, scope))
                .or_insert_with(|| (quota, Arc::new(RateLimiter::keyed(quota))));
            if entry.0 != quota {
                // The tenant changed this limit: start counting afresh.
                *entry = (quota, Arc::new(RateLimiter::keyed(quota)));
            }
            entry.1.clone()
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            AppError::TooManyRequests {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }

    /// Forgets keys whose limits have fully recovered (periodic upkeep).
    pub fn forget_idle(&self) {
        let limiters: Vec<Arc<Limiter>> = self
            .limiters
            .lock()
            .expect("limits lock")
            .values()
            .map(|(_, l)| l.clone())
            .collect();
        for limiter in limiters {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_over_the_limit_is_refused_with_a_retry_after() {
        let limits = Limits::default();
        let tenant = TenantId::new();
        let rate = Rate::new(3, 60);
        for _ in 0..3 {
            limits
                .check(tenant, Kind::LoginPerIp, rate, "1.2.3.4")
                .unwrap();
        }
        match limits.check(tenant, Kind::LoginPerIp, rate, "1.2.3.4") {
            Err(AppError::TooManyRequests { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs))
            }
            other => panic!("expected 429, got {other:?}"),
        }
        // Other keys, kinds and tenants count separately.
        limits
            .check(tenant, Kind::LoginPerIp, rate, "5.6.7.8")
            .unwrap();
        limits
            .check(tenant, Kind::LoginPerAccount, rate, "1.2.3.4")
            .unwrap();
        limits
            .check(TenantId::new(), Kind::LoginPerIp, rate, "1.2.3.4")
            .unwrap();
    }

    #[test]
    fn one_address_cannot_lock_an_identifier_out_for_everyone() {
        let limits = Limits::default();
        let tenant = TenantId::new();
        let rate = Rate::new(2, 60);
        for _ in 0..2 {
            limits
                .check_identifier(tenant, Kind::LoginPerAccount, rate, "victim", "attacker")
                .unwrap();
        }
        assert!(
            limits
                .check_identifier(tenant, Kind::LoginPerAccount, rate, "victim", "attacker")
                .is_err()
        );
        // The owner, elsewhere, still gets in ...
        limits
            .check_identifier(tenant, Kind::LoginPerAccount, rate, "victim", "owner")
            .unwrap();
        // ... until the identifier's overall limit is reached from many addresses.
        for n in 0..(2 * GLOBAL_FACTOR) {
            let _ = limits.check_identifier(
                tenant,
                Kind::LoginPerAccount,
                rate,
                "victim",
                &format!("bot{n}"),
            );
        }
        assert!(
            limits
                .check_identifier(tenant, Kind::LoginPerAccount, rate, "victim", "owner")
                .is_err()
        );
    }

    #[test]
    fn a_changed_rate_takes_effect() {
        let limits = Limits::default();
        let tenant = TenantId::new();
        limits
            .check(tenant, Kind::OtpSendPerIp, Rate::new(1, 60), "k")
            .unwrap();
        assert!(
            limits
                .check(tenant, Kind::OtpSendPerIp, Rate::new(1, 60), "k")
                .is_err()
        );
        limits
            .check(tenant, Kind::OtpSendPerIp, Rate::new(5, 60), "k")
            .unwrap();
    }
}

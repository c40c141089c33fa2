//! Rate limits (governor), keyed per tenant and per kind, with each
//! tenant's quotas from its settings. A refusal is a 429 whose
//! `Retry-After` says when to try again.
//!
//! Limits on an identifier (an account, a phone number) would let anyone
//! lock its owner out by failing on purpose. So they count per identifier
//! *and address* at the tenant's rate, and per identifier from everywhere
//! only at [`GLOBAL_FACTOR`] times that: one address cannot lock anyone
//! out, and many addresses are still held back.
//!
//! One node counts in its own memory. Several nodes ([`Limits::share`],
//! with `REDIS_URL`) count in Redis, so that N nodes do not allow N times
//! the limit: the same generic cell rate algorithm (GCRA) as governor's, in
//! a Lua script on Redis' clock, one call per check or per batch of checks
//! ([`Limits::check_many`]: the message writer's). If Redis cannot answer, the
//! node falls back to its own count rather than refuse everyone or let
//! everything through.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

mod shared;

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
    /// Redis, once several nodes share the counts.
    shared: OnceLock<shared::Shared>,
}

/// One event to count ([`Limits::check_many`]).
#[derive(Debug, Clone, Copy)]
pub struct Count<'a> {
    pub tenant: TenantId,
    pub kind: Kind,
    pub rate: Rate,
    pub key: &'a str,
}

fn quota(rate: Rate) -> Quota {
    let max = NonZeroU32::new(rate.max.max(1)).expect("max is at least 1");
    let period = Duration::from_secs(rate.per_secs.max(1).into()) / max.get();
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .expect("a positive period")
        .allow_burst(max)
}

impl Limits {
    /// Counts in Redis from now on (several nodes), keys under `prefix`.
    pub fn share(&self, redis: super::redis_link::RedisLink, prefix: &str) {
        let _ = self.shared.set(shared::Shared::new(redis, prefix));
    }

    /// Whether the counts are in Redis.
    pub fn is_shared(&self) -> bool {
        self.shared.get().is_some()
    }

    /// Counts one event for `key`; 429 when over `rate`.
    pub async fn check(
        &self,
        tenant: TenantId,
        kind: Kind,
        rate: Rate,
        key: &str,
    ) -> AppResult<()> {
        self.check_in(tenant, kind, Scope::One, rate, key).await
    }

    /// Counts one event for `identifier` from `address` (see the module
    /// documentation).
    pub async fn check_identifier(
        &self,
        tenant: TenantId,
        kind: Kind,
        rate: Rate,
        identifier: &str,
        address: &str,
    ) -> AppResult<()> {
        let keyed = format!("{identifier}\u{0}{address}");
        self.check_in(tenant, kind, Scope::One, rate, &keyed)
            .await?;
        let everywhere = Rate::new(rate.max.saturating_mul(GLOBAL_FACTOR), rate.per_secs);
        self.check_in(tenant, kind, Scope::Everywhere, everywhere, identifier)
            .await
    }

    async fn check_in(
        &self,
        tenant: TenantId,
        kind: Kind,
        scope: Scope,
        rate: Rate,
        key: &str,
    ) -> AppResult<()> {
        let count = Count {
            tenant,
            kind,
            rate,
            key,
        };
        self.count(&[(count, scope)]).await.pop().unwrap_or(Ok(()))
    }

    /// Counts `counts` in order, each as [`Limits::check`] would, with one
    /// Redis call for them all when the counts are shared.
    pub async fn check_many(&self, counts: &[Count<'_>]) -> Vec<AppResult<()>> {
        let scoped: Vec<_> = counts.iter().map(|&c| (c, Scope::One)).collect();
        self.count(&scoped).await
    }

    /// Counts each of `counts` in order: in Redis, in one call, when the
    /// counts are shared and Redis answers; else in this process.
    async fn count(&self, counts: &[(Count<'_>, Scope)]) -> Vec<AppResult<()>> {
        if let Some(shared) = self.shared.get()
            && !counts.is_empty()
        {
            match shared.check(counts).await {
                Ok(answers) => return answers,
                // Logged once, by whoever notices Redis going away.
                Err(err) => {
                    tracing::debug!(error = %err, "rate limits in Redis did not answer; counting here");
                }
            }
        }
        counts
            .iter()
            .map(|&(count, scope)| self.check_here(count, scope))
            .collect()
    }

    /// Counts one event in this process only (the message writer's checks
    /// on one node, where a resent `clientMsgId` is not counted).
    pub fn check_local(&self, count: Count<'_>) -> AppResult<()> {
        self.check_here(count, Scope::One)
    }

    fn check_here(&self, count: Count<'_>, scope: Scope) -> AppResult<()> {
        let Count {
            tenant,
            kind,
            rate,
            key,
        } = count;
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

    #[tokio::test]
    async fn the_event_over_the_limit_is_refused_with_a_retry_after() {
        let limits = Limits::default();
        let tenant = TenantId::new();
        let rate = Rate::new(3, 60);
        for _ in 0..3 {
            limits
                .check(tenant, Kind::LoginPerIp, rate, "1.2.3.4")
                .await
                .unwrap();
        }
        match limits
            .check(tenant, Kind::LoginPerIp, rate, "1.2.3.4")
            .await
        {
            Err(AppError::TooManyRequests { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs))
            }
            other => panic!("expected 429, got {other:?}"),
        }
        // Other keys, kinds and tenants count separately.
        limits
            .check(tenant, Kind::LoginPerIp, rate, "5.6.7.8")
            .await
            .unwrap();
        limits
            .check(tenant, Kind::LoginPerAccount, rate, "1.2.3.4")
            .await
            .unwrap();
        limits
            .check(TenantId::new(), Kind::LoginPerIp, rate, "1.2.3.4")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn one_address_cannot_lock_an_identifier_out_for_everyone() {
        let limits = Limits::default();
        let tenant = TenantId::new();
        let rate = Rate::new(2, 60);
        for _ in 0..2 {
            limits
                .check_identifier(tenant, Kind::LoginPerAccount, rate, "victim", "attacker")
                .await
                .unwrap();
        }
        assert!(
            limits
                .check_identifier(tenant, Kind::LoginPerAccount, rate, "victim", "attacker")
                .await
                .is_err()
        );
        // The owner, elsewhere, still gets in ...
        limits
            .check_identifier(tenant, Kind::LoginPerAccount, rate, "victim", "owner")
            .await
            .unwrap();
        // ... until the identifier's overall limit is reached from many addresses.
        for n in 0..(2 * GLOBAL_FACTOR) {
            let _ = limits
                .check_identifier(
                    tenant,
                    Kind::LoginPerAccount,
                    rate,
                    "victim",
                    &format!("bot{n}"),
                )
                .await;
        }
        assert!(
            limits
                .check_identifier(tenant, Kind::LoginPerAccount, rate, "victim", "owner")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_changed_rate_takes_effect() {
        let limits = Limits::default();
        let tenant = TenantId::new();
        limits
            .check(tenant, Kind::OtpSendPerIp, Rate::new(1, 60), "k")
            .await
            .unwrap();
        assert!(
            limits
                .check(tenant, Kind::OtpSendPerIp, Rate::new(1, 60), "k")
                .await
                .is_err()
        );
        limits
            .check(tenant, Kind::OtpSendPerIp, Rate::new(5, 60), "k")
            .await
            .unwrap();
    }
}

//! The cache of session liveness behind every authenticated request.
//!
//! A request asks MySQL whether its session is live at most once per
//! `SAMVAD_SESSION_CACHE_TTL`; revocations (logout, block, suspension)
//! arrive as domain events and evict entries before the revoking request
//! returns.
//!
//! The race to close: a request reads "live" just before a revocation
//! commits and inserts that answer just after the event evicted the entry,
//! keeping a dead session alive for a whole TTL. So every eviction bumps an
//! epoch, and a loaded answer is cached only if no eviction happened while
//! it was read (checked and inserted under the same lock as evictions);
//! otherwise it is read again.

use std::{future::Future, sync::Mutex, time::Duration};

use moka::sync::Cache;

use crate::{
    domain::{
        SessionId, TenantId,
        events::{DomainEvent, Listener},
        session::Liveness,
    },
    error::AppResult,
};

/// How many times a read is retried when evictions keep landing during it.
const RETRIES: usize = 3;

pub struct SessionCache {
    entries: Cache<SessionId, Liveness>,
    /// Bumped by every eviction; guards "check, then insert" against them.
    epoch: Mutex<u64>,
}

impl SessionCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
            epoch: Mutex::new(0),
        }
    }

    /// The cached liveness of `session`, or what `load` reads (then cached).
    pub async fn get_or_load<F, Fut>(
        &self,
        session: SessionId,
        load: F,
    ) -> AppResult<Option<Liveness>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = AppResult<Option<Liveness>>>,
    {
        if let Some(live) = self.entries.get(&session) {
            return Ok(Some(live));
        }
        for _ in 0..RETRIES {
            let before = *self.epoch.lock().expect("epoch lock");
            let Some(live) = load().await? else {
                return Ok(None);
            };
            let epoch = self.epoch.lock().expect("epoch lock");
            if *epoch == before {
                self.entries.insert(session, live.clone());
                return Ok(Some(live));
            }
        }
        // Evictions keep landing: answer from a fresh read, uncached.
        load().await
    }

    fn evict(&self, evict: impl FnOnce(&Cache<SessionId, Liveness>)) {
        let mut epoch = self.epoch.lock().expect("epoch lock");
        *epoch += 1;
        evict(&self.entries);
    }

    pub fn evict_session(&self, session: SessionId) {
        self.evict(|entries| entries.invalidate(&session));
    }

    /// Evicts every session of a participant (or of the superadmin).
    pub fn evict_subject(&self, tenant: Option<TenantId>, subject: uuid::Uuid) {
        self.evict(|entries| {
            let _ = entries.invalidate_entries_if(move |_, live| {
                live.tenant == tenant && live.subject_id == subject
            });
        });
    }

    pub fn evict_tenant(&self, tenant: TenantId) {
        self.evict(|entries| {
            let _ = entries.invalidate_entries_if(move |_, live| live.tenant == Some(tenant));
        });
    }
}

/// Revocations evict before the revoking request returns.
#[async_trait::async_trait]
impl Listener for SessionCache {
    async fn on_event(&self, event: &DomainEvent) {
        match *event {
            DomainEvent::SessionRevoked { session } => self.evict_session(session),
            DomainEvent::SubjectSessionsRevoked { tenant, subject } => {
                self.evict_subject(tenant, subject)
            }
            DomainEvent::TenantStatusChanged { tenant, .. } => self.evict_tenant(tenant),
            // Only the three revocations above end sessions.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use super::*;

    fn live(tenant: TenantId, dead: Option<&'static str>) -> Liveness {
        Liveness {
            tenant: Some(tenant),
            subject_id: uuid::Uuid::now_v7(),
            role: "user".into(),
            dead_because: dead,
        }
    }

    #[tokio::test]
    async fn an_answer_read_across_an_eviction_is_read_again_not_cached() {
        let cache = Arc::new(SessionCache::new(Duration::from_secs(60)));
        let (session, tenant) = (SessionId::new(), TenantId::new());
        let revoked = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));

        // The first read answers "live", and the logout lands while it is in flight.
        let answer = cache
            .get_or_load(session, || {
                let (cache, revoked, reads) = (cache.clone(), revoked.clone(), reads.clone());
                async move {
                    let first = reads.fetch_add(1, Ordering::SeqCst) == 0;
                    if first {
                        revoked.store(true, Ordering::SeqCst);
                        cache.evict_session(session);
                        Ok(Some(live(tenant, None)))
                    } else {
                        Ok(Some(live(tenant, Some("session_revoked"))))
                    }
                }
            })
            .await
            .unwrap()
            .unwrap();

        assert_eq!(answer.dead_because, Some("session_revoked"));
        assert_eq!(
            cache.entries.get(&session).unwrap().dead_because,
            Some("session_revoked")
        );
    }

    #[tokio::test]
    async fn evicting_a_tenant_drops_only_its_sessions() {
        let cache = SessionCache::new(Duration::from_secs(60));
        let (a, b) = (TenantId::new(), TenantId::new());
        let (sa, sb) = (SessionId::new(), SessionId::new());
        cache
            .get_or_load(sa, || async { Ok(Some(live(a, None))) })
            .await
            .unwrap();
        cache
            .get_or_load(sb, || async { Ok(Some(live(b, None))) })
            .await
            .unwrap();

        cache.evict_tenant(a);

        assert!(cache.entries.get(&sa).is_none());
        assert!(cache.entries.get(&sb).is_some());
    }
}

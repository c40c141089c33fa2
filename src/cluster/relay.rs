//! The events other nodes must hear to keep their caches right, on one
//! Redis channel (`{prefix}:events`): a session revoked (every node's
//! session cache forgets it), all of a subject's sessions revoked, a tenant
//! suspended or resumed, a tenant's policy or settings changed. Each node
//! publishes its own (a listener on its bus) and applies the others' by
//! running its bus's listeners, as if they had happened here: within a
//! Redis round trip, so well within a second. Sockets need nothing of
//! this: the fan-out of the node where an event happened reaches every
//! node's sockets (`realtime::crossing`, and the adapter for rooms).
//!
//! Messages are JSON `{"node": uuid, "event": {...}}`; a node ignores its
//! own. A relayed event is applied with [`FROM_PEER`] set, so it is not
//! published again.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use socketioxide_redis::drivers::Driver;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::ClusterDriver;
use crate::{
    domain::{
        SessionId, TenantId,
        events::{DomainEvent, Listener},
        tenant::TenantStatus,
    },
    state::AppState,
};

/// Tries at telling the other nodes (over about 5 s).
const PUBLISH_ATTEMPTS: u32 = 6;

tokio::task_local! {
    /// Set while a peer's event is applied here.
    static FROM_PEER: bool;
}

/// What crosses between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum PeerEvent {
    SessionRevoked { session: Uuid },
    SubjectSessionsRevoked { tenant: Option<Uuid>, subject: Uuid },
    TenantStatusChanged { tenant: Uuid, status: String },
    PolicyChanged { tenant: Uuid },
    SettingsChanged { tenant: Uuid },
}

impl PeerEvent {
    fn of(event: &DomainEvent) -> Option<Self> {
        Some(match event {
            DomainEvent::SessionRevoked { session } => Self::SessionRevoked { session: session.0 },
            DomainEvent::SubjectSessionsRevoked { tenant, subject } => {
                Self::SubjectSessionsRevoked {
                    tenant: tenant.map(|t| t.0),
                    subject: *subject,
                }
            }
            DomainEvent::TenantStatusChanged { tenant, status } => Self::TenantStatusChanged {
                tenant: tenant.0,
                status: status.as_str().to_owned(),
            },
            DomainEvent::PolicyChanged { tenant } => Self::PolicyChanged { tenant: tenant.0 },
            DomainEvent::SettingsChanged { tenant } => Self::SettingsChanged { tenant: tenant.0 },
            _ => return None,
        })
    }

    fn into_domain(self) -> Option<DomainEvent> {
        Some(match self {
            Self::SessionRevoked { session } => DomainEvent::SessionRevoked {
                session: SessionId(session),
            },
            Self::SubjectSessionsRevoked { tenant, subject } => {
                DomainEvent::SubjectSessionsRevoked {
                    tenant: tenant.map(TenantId),
                    subject,
                }
            }
            Self::TenantStatusChanged { tenant, status } => DomainEvent::TenantStatusChanged {
                tenant: TenantId(tenant),
                status: TenantStatus::from_str_opt(&status)?,
            },
            Self::PolicyChanged { tenant } => DomainEvent::PolicyChanged {
                tenant: TenantId(tenant),
            },
            Self::SettingsChanged { tenant } => DomainEvent::SettingsChanged {
                tenant: TenantId(tenant),
            },
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    node: Uuid,
    event: PeerEvent,
}

/// Publishes this node's events for the others.
struct Outgoing {
    node: Uuid,
    channel: String,
    driver: ClusterDriver,
}

#[async_trait::async_trait]
impl Listener for Outgoing {
    async fn on_event(&self, event: &DomainEvent) {
        if FROM_PEER.try_with(|from_peer| *from_peer).unwrap_or(false) {
            return;
        }
        let Some(event) = PeerEvent::of(event) else {
            return;
        };
        let Ok(body) = serde_json::to_vec(&Envelope {
            node: self.node,
            event,
        }) else {
            return;
        };
        // Not awaited: a request that revokes a session does not wait on
        // Redis (this node's caches are already right).
        let (driver, channel) = (self.driver.clone(), self.channel.clone());
        tokio::spawn(async move {
            // Redis restarting: the connection comes back within seconds.
            for attempt in 1..=PUBLISH_ATTEMPTS {
                match driver.publish(channel.clone(), body.clone()).await {
                    Ok(()) => return,
                    Err(err) if attempt == PUBLISH_ATTEMPTS => {
                        tracing::warn!(error = %err, "telling the other nodes failed; their caches expire instead");
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await
                    }
                }
            }
        });
    }
}

/// Starts relaying (nothing to do for one node): registers the publishing
/// listener and spawns the task that applies the other nodes' events;
/// `node` is this process's id among them.
pub async fn start(
    state: &AppState,
    driver: ClusterDriver,
    node: Uuid,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    if matches!(driver, ClusterDriver::Local) {
        return Ok(None);
    }
    let channel = format!("{}:events", state.config.redis_prefix);
    let mut incoming = driver.subscribe(channel.clone(), 1024).await?;
    state.core.events().listen(Arc::new(Outgoing {
        node,
        channel,
        driver,
    }));
    let state = state.clone();
    Ok(Some(tokio::spawn(async move {
        while let Some((_, body)) = incoming.next().await {
            let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
                tracing::warn!("an unreadable event from another node");
                continue;
            };
            if envelope.node == node {
                continue;
            }
            if let Some(event) = envelope.event.into_domain() {
                FROM_PEER.scope(true, apply(&state, event)).await;
            }
        }
    })))
}

/// Applies another node's event: this node's caches and listeners.
async fn apply(state: &AppState, event: DomainEvent) {
    match event {
        DomainEvent::SettingsChanged { tenant } => {
            state.core.forget_settings(tenant).await;
            state.core.events().notify_listeners(&event).await;
        }
        // Each node ends its own sockets of the dead sessions: the whole
        // event, so that this node's fan-out does (after the listeners).
        DomainEvent::SubjectSessionsRevoked { .. } => state.core.events().publish(event).await,
        _ => state.core.events().notify_listeners(&event).await,
    }
}

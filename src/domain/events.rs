//! The domain event bus: the core publishes what changed; front doors and
//! caches react. Nothing else broadcasts.
//!
//! Two kinds of consumer:
//! - [`Listener`]s run inside [`EventBus::publish`], before it returns, so a
//!   cache invalidated or a policy reloaded by an event is in effect for the
//!   very next request (session revocation, tenant suspension, policy edits).
//! - Streams ([`EventBus::subscribe`]) receive every event asynchronously;
//!   the realtime layer and the console fan them out to clients.
//!
//! Today the bus is in-process: another node (or the CLI) does not see these
//! events. The policy enforcer re-reads MySQL periodically and the session
//! cache expires after `SAMVAD_SESSION_CACHE_TTL`, which bounds how long
//! another node can lag. Carrying the events over Redis (scale-out) removes
//! that lag.

use std::sync::{Arc, RwLock};

use tokio::sync::{broadcast, mpsc};

use super::{
    ConversationId, ParticipantId, SessionId, TenantId,
    call::{Call, CallAction, CallTokens, Signal},
    conversation::Conversation,
    message::Message,
    participant::ParticipantType,
    relationship::ChatRequest,
    tenant::TenantStatus,
};

/// Something that changed in the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// A tenant was suspended or resumed.
    TenantStatusChanged {
        tenant: TenantId,
        status: TenantStatus,
    },
    /// A tenant's casbin rules changed (seeded, added or removed).
    PolicyChanged { tenant: TenantId },
    /// A tenant's settings changed (every node forgets its cached copy).
    SettingsChanged { tenant: TenantId },
    /// One session was revoked (logout, refresh-token reuse).
    SessionRevoked { session: SessionId },
    /// Every session of a participant (or, without a tenant, of the
    /// superadmin) was revoked: blocked, logout-all, password change.
    SubjectSessionsRevoked {
        tenant: Option<TenantId>,
        subject: uuid::Uuid,
    },
    /// A participant's profile changed (name, avatar, status, blocked).
    ParticipantUpdated {
        tenant: TenantId,
        participant: ParticipantId,
    },
    /// A conversation was created; `members` are its members.
    ConversationCreated {
        conversation: Arc<Conversation>,
        members: Arc<[ParticipantId]>,
    },
    /// A conversation's title, activity or roles changed.
    ConversationUpdated {
        conversation: Arc<Conversation>,
        members: Arc<[ParticipantId]>,
    },
    /// Someone joined a group; `members` includes them.
    MemberAdded {
        tenant: TenantId,
        conversation: ConversationId,
        participant: ParticipantId,
        members: Arc<[ParticipantId]>,
    },
    /// Someone left or was removed; `members` includes them, to tell them.
    MemberRemoved {
        tenant: TenantId,
        conversation: ConversationId,
        participant: ParticipantId,
        members: Arc<[ParticipantId]>,
    },
    /// A message was added (sent, forwarded, or written by Samvad).
    /// `sender_kind` is its sender's type (`None` without a sender), so a
    /// consumer never goes back to the database for it.
    MessageCreated {
        message: Arc<Message>,
        members: Arc<[ParticipantId]>,
        sender_kind: Option<ParticipantType>,
    },
    /// A message's text changed.
    MessageEdited {
        message: Arc<Message>,
        members: Arc<[ParticipantId]>,
        sender_kind: Option<ParticipantType>,
    },
    /// A message was deleted for everyone, or for one member (then
    /// `members` is just them).
    MessageDeleted {
        message: Arc<Message>,
        members: Arc<[ParticipantId]>,
        for_everyone: bool,
        sender_kind: Option<ParticipantType>,
    },
    /// A participant reacted (`emoji`) or took their reaction back (`None`).
    ReactionChanged {
        message: Arc<Message>,
        members: Arc<[ParticipantId]>,
        participant: ParticipantId,
        emoji: Option<String>,
    },
    /// A member's delivered or read cursor moved forward (which of the two
    /// moved: `delivered_moved`, `read_moved`).
    ReceiptMoved {
        tenant: TenantId,
        conversation: ConversationId,
        participant: ParticipantId,
        delivered_seq: u64,
        read_seq: u64,
        delivered_moved: bool,
        read_moved: bool,
        members: Arc<[ParticipantId]>,
    },
    /// A user asked an astrologer to chat.
    ChatRequestCreated { request: Arc<ChatRequest> },
    /// The astrologer accepted or declined.
    ChatRequestAnswered { request: Arc<ChatRequest> },
    /// A participant's inbox changed: a notification was made or collapsed
    /// into (`notification`), or some were read or deleted; `unread` is the
    /// new count.
    NotificationsChanged {
        tenant: TenantId,
        participant: ParticipantId,
        notification: Option<Arc<crate::domain::notification::Notification>>,
        unread: u64,
    },
    /// A participant came online (first connection) or went offline (last
    /// connection closed and the grace period passed) on this node.
    PresenceChanged {
        tenant: TenantId,
        participant: ParticipantId,
        online: bool,
        /// When this happened; stored as the participant's `last_seen_at`.
        at: chrono::DateTime<chrono::Utc>,
        /// The participant's conversations, whose members are told, when
        /// known (coming online from a socket that has just read them);
        /// otherwise the fan-out looks the members up.
        conversations: Option<Arc<[ConversationId]>>,
    },
    /// A call started (`action` is `None`; `tokens` carries each party's
    /// join) or moved through its state machine. `by` acted from the
    /// session `by_session` (a timeout has neither).
    CallChanged {
        call: Arc<Call>,
        action: Option<CallAction>,
        by: Option<ParticipantId>,
        by_session: Option<SessionId>,
        tokens: Option<Arc<CallTokens>>,
    },
    /// A party relays WebRTC signalling to the other party of a live call.
    CallSignal {
        call: Arc<Call>,
        from: ParticipantId,
        signal: Signal,
    },
}

/// A consumer that must have seen an event before `publish` returns.
#[async_trait::async_trait]
pub trait Listener: Send + Sync {
    async fn on_event(&self, event: &DomainEvent);
}

/// Fan-out of domain events inside one process.
#[derive(Clone)]
pub struct EventBus {
    listeners: Arc<RwLock<Vec<Arc<dyn Listener>>>>,
    feeds: Arc<RwLock<Vec<mpsc::UnboundedSender<Arc<DomainEvent>>>>>,
    stream: broadcast::Sender<Arc<DomainEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (stream, _) = broadcast::channel(4096);
        Self {
            listeners: Arc::default(),
            feeds: Arc::default(),
            stream,
        }
    }

    /// Registers a listener that runs synchronously with every publish.
    pub fn listen(&self, listener: Arc<dyn Listener>) {
        self.listeners
            .write()
            .expect("listener lock")
            .push(listener);
    }

    /// A stream of every event published from now on. A subscriber that
    /// falls more than 4096 events behind loses the oldest (and is told so
    /// by `RecvError::Lagged`): for observers that can resynchronise.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<DomainEvent>> {
        self.stream.subscribe()
    }

    /// A feed of every event published from now on, in order, that never
    /// drops one (unbounded): for the realtime fan-out, which must deliver
    /// every message. The feed ends when its receiver is dropped.
    pub fn feed(&self) -> mpsc::UnboundedReceiver<Arc<DomainEvent>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.feeds.write().expect("feed lock").push(tx);
        rx
    }

    /// Runs the listeners only: for another node's event (`cluster::relay`),
    /// whose sockets that node's fan-out has reached already.
    pub async fn notify_listeners(&self, event: &DomainEvent) {
        let listeners = self.listeners.read().expect("listener lock").clone();
        for listener in listeners {
            listener.on_event(event).await;
        }
    }

    /// Runs the listeners, then hands the event to the feeds and streams.
    pub async fn publish(&self, event: DomainEvent) {
        self.notify_listeners(&event).await;
        let event = Arc::new(event);
        let closed = {
            let feeds = self.feeds.read().expect("feed lock");
            feeds
                .iter()
                .filter(|feed| feed.send(event.clone()).is_err())
                .count()
        };
        if closed > 0 {
            self.feeds
                .write()
                .expect("feed lock")
                .retain(|feed| !feed.is_closed());
        }
        // No stream subscribers is normal (CLI, tests); nothing to report.
        let _ = self.stream.send(event);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    struct Recorder(Mutex<Vec<DomainEvent>>);

    #[async_trait::async_trait]
    impl Listener for Recorder {
        async fn on_event(&self, event: &DomainEvent) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    #[tokio::test]
    async fn listeners_have_seen_an_event_when_publish_returns() {
        let bus = EventBus::new();
        let recorder = Arc::new(Recorder(Mutex::new(vec![])));
        bus.listen(recorder.clone());
        let mut stream = bus.subscribe();
        let event = DomainEvent::SessionRevoked {
            session: SessionId::new(),
        };

        bus.publish(event.clone()).await;

        assert_eq!(*recorder.0.lock().unwrap(), vec![event.clone()]);
        assert_eq!(*stream.recv().await.unwrap(), event);
    }

    #[tokio::test]
    async fn feeds_get_every_event_in_order_and_closed_feeds_are_dropped() {
        let bus = EventBus::new();
        let mut feed = bus.feed();
        let gone = bus.feed();
        drop(gone);
        let events: Vec<DomainEvent> = (0..10_000)
            .map(|_| DomainEvent::SessionRevoked {
                session: SessionId::new(),
            })
            .collect();
        for event in &events {
            bus.publish(event.clone()).await;
        }
        for event in &events {
            assert_eq!(
                *feed.try_recv().unwrap(),
                *event,
                "none lost, none reordered"
            );
        }
        assert_eq!(bus.feeds.read().unwrap().len(), 1);
    }
}

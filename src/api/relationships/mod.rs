//! The relationship facts behind the messaging rules, one module each:
//! [`consultations`] (recorded by the tenant's backend), [`chat_requests`]
//! (users ask astrologers), [`contacts`] (address-book sync, starting a
//! chat) and [`blocks`]. All are tagged `Relationships` in the spec.

pub mod blocks;
pub mod chat_requests;
pub mod consultations;
pub mod contacts;

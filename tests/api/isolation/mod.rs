//! Tenancy: another tenant's object is a 404, exactly like a missing one,
//! and lists and searches never show it. `participants`: every participant
//! endpoint and tokens pointed at another tenant. `messaging`: every
//! conversation, message and relationship endpoint.

mod messaging;
mod participants;

//! Samvad: a multi-tenant communication platform for consultation
//! marketplaces (astrology brands first).
//!
//! # Architecture
//! Three front doors call one core:
//! ```text
//!  REST (api)      Socket.IO (realtime)      console
//!        \      shapes: wire     |             /
//!     authenticate + authorize (auth: JWT sessions, casbin)
//!                        |
//!        core (domain): rules, SQL, domain events
//!                        |
//!          MySQL (sqlx)  +  event bus (domain::events)
//! ```
//! - [`api`] parses REST input, authorizes, calls [`domain::Core`], shapes
//!   the envelope; [`api::spec`] is the published spec. It holds no SQL.
//! - [`realtime`] is Socket.IO: inbound events onto the same use cases,
//!   and the fan-out of domain events. [`wire`] holds the JSON shapes both
//!   doors use. [`console`] is the server-rendered pages.
//! - [`domain`] owns every rule and every query (SQL only there and in
//!   [`db`]); each query on tenant data takes a [`domain::TenantId`]. It
//!   publishes [`domain::events::DomainEvent`]s.
//! - [`auth`] turns tokens into an [`domain::Actor`] and asks casbin whether
//!   the actor's role may act in its tenant.
//! - [`state`] holds [`state::AppState`], what every front door reads;
//!   [`app`] wires routes and middleware and runs the server;
//!   [`workers`] is the background work (upkeep, call sweeper), started
//!   and stopped with the server; [`db`] the pool and migrations;
//!   [`config`] the environment; [`cli`] the command line; [`delivery`]
//!   email and SMS; [`agora`] call tokens; [`error`] the one error type.
//!
//! `docs/ARCHITECTURE.md` tells the same story at more length.

#![forbid(unsafe_code)]

pub mod agora;
pub mod api;
pub mod app;
pub mod auth;
pub mod bench_core;
pub mod bench_seed;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod console;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod error;
pub mod media;
pub mod metrics;
pub mod middleware;
pub mod realtime;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod wire;
pub mod workers;

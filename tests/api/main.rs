//! Integration tests: the real app on port 0 against a fresh MySQL database
//! per test, driven over HTTP; one module (or folder) per area. See
//! `helpers/` for the harness, `outbox.rs` for mail and SMS, `world.rs` for
//! the messaging cast. Run them alone with `cargo test --test api`; the
//! Node and Chromium suite is its own target (`cargo test --test e2e`).

mod account;
mod api_keys;
mod audit;
mod auth;
mod bad_input;
mod bench_core;
mod bench_seed;
mod calls;
mod cli;
mod cluster;
mod console;
mod devices;
mod digests;
mod events;
mod files;
mod health;
mod helpers;
mod isolation;
mod legacy;
mod log;
mod login_limits;
mod matrix;
mod messaging;
mod metrics;
mod moderation;
mod notifications;
mod openapi;
mod origins;
mod otp;
mod outbox;
mod participants;
mod platform;
mod policies;
mod presence;
mod privacy;
mod push;
mod push_fakes;
mod redis_link;
mod relationships;
mod sessions;
mod settings;
mod storage;
mod users;
mod virus_scan;
mod webhooks;
mod world;

//! Integration tests: the real app on port 0 against a fresh MySQL database
//! per test, driven over HTTP. See `helpers.rs` for the harness.

mod account;
mod api_keys;
mod audit;
mod auth;
mod bad_input;
mod bench_seed;
mod calls;
mod cli;
mod console;
mod console_admin;
mod e2e;
mod events;
mod hardening;
mod health;
mod helpers;
mod isolation;
mod legacy;
mod matrix;
mod messaging;
mod messaging_isolation;
mod openapi;
mod origins;
mod otp;
mod outbox;
mod participants;
mod platform;
mod policies;
mod presence;
mod relationships;
mod sessions;
mod settings;
mod users;
mod world;

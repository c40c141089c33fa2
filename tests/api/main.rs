//! Integration tests: the real app on port 0 against a fresh MySQL database
//! per test, driven over HTTP. See `helpers.rs` for the harness.

mod audit;
mod auth;
mod bad_input;
mod cli;
mod health;
mod helpers;
mod isolation;
mod matrix;
mod openapi;
mod participants;
mod platform;
mod policies;
mod users;

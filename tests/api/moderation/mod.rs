//! Moderation (issue 17): the off-platform contact guard (`guard`) and
//! reports (`reports`).

mod guard;
mod reports;

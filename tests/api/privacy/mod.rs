//! Privacy (issue 17): export (`export`), erasure and its requests
//! (`erase`), retention (`retention`).

mod erase;
mod export;
mod retention;

//! What Samvad knows about the bytes of files, without the database: the
//! type from the bytes (`sniff`), images decoded under a pixel cap with
//! their metadata stripped and their thumbnails (`image`), audio durations
//! from the container (`audio`), and the virus scanner's protocol
//! (`clamd`). Pure and synchronous except `clamd`; the core calls the
//! synchronous ones on the blocking pool (`domain::file`).

pub mod audio;
pub mod clamd;
pub mod image;
pub mod sniff;

//! The development JWT secret kept under the data directory.
//!
//! Without `SAMVAD_JWT_SECRET` (development only), the signing secret is
//! read from `data_dir/jwt.key`, which is made on first use (random,
//! readable by its owner only), the way `data_dir/data.key` keeps the
//! development data key. So development tokens survive a restart, and
//! tokens the CLI prints (`samvad bench seed`) work on a server that uses
//! the same data directory.

use std::{io::Write, path::Path};

use anyhow::{Context, bail};

use super::Secret;

/// The file under the data directory that holds the development secret.
pub const FILE: &str = "jwt.key";

/// The secret kept in `data_dir/jwt.key`, made and kept there if missing.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Secret> {
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => return checked(&text, &path),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    // Written in full under a private name, then linked into place (which
    // never replaces a file): a process starting at the same moment sees
    // either no file or the whole secret, and both end up using one secret.
    let secret = crate::domain::secrets::random();
    let draft = data_dir.join(format!(".{FILE}.{}", uuid::Uuid::now_v7().simple()));
    if let Err(err) = write_private(&draft, &secret) {
        let _ = std::fs::remove_file(&draft);
        return Err(err).with_context(|| format!("writing {}", draft.display()));
    }
    let linked = std::fs::hard_link(&draft, &path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => Ok(Secret::new(secret)),
        // Another process made it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            checked(&text, &path)
        }
        Err(err) => Err(err).with_context(|| format!("creating {}", path.display())),
    }
}

/// The kept secret, held to the rule for `SAMVAD_JWT_SECRET`.
fn checked(text: &str, path: &Path) -> anyhow::Result<Secret> {
    let secret = text.trim();
    if secret.len() < 32 {
        bail!(
            "{} is not a JWT secret (at least 32 bytes); delete it to make a new one",
            path.display()
        );
    }
    Ok(Secret::new(secret))
}

/// Writes `text` to the new file `path`, readable by its owner only (Unix).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

//! The shared secret between a training server and its clients: a token in a file only its
//! owner can read.

use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::Path;

use super::RemoteError;

/// Bytes of randomness in a new token (written as hex: 64 characters).
const TOKEN_BYTES: usize = 32;

/// `server.token` in Atelier's config folder (`$XDG_CONFIG_HOME/atelier`, else
/// `~/.config/atelier`): where `atelier serve` keeps its token unless told otherwise.
#[must_use]
pub fn default_token_file() -> std::path::PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config")))
        .unwrap_or_else(std::env::temp_dir)
        .join("atelier")
        .join("server.token")
}

/// The token in `path`, surrounding whitespace trimmed.
pub fn read_token(path: &Path) -> Result<String, RemoteError> {
    let text = fs::read_to_string(path).map_err(|source| RemoteError::TokenFile {
        path: path.display().to_string(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(RemoteError::EmptyToken {
            path: path.display().to_string(),
        });
    }
    Ok(token.to_string())
}

/// The token in `path`, or a new random one written there (owner-only, 0600 on Unix) when the
/// file is missing; `true` when it was created.
pub fn load_or_create_token(path: &Path) -> Result<(String, bool), RemoteError> {
    if path.exists() {
        return read_token(path).map(|token| (token, false));
    }
    let token = random_token()?;
    let io = |source| RemoteError::TokenFile {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io)?;
    }
    // create_new: a token another process wrote meanwhile is never overwritten.
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            writeln!(file, "{token}").map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok((token, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_token(path).map(|token| (token, false))
        }
        Err(e) => Err(io(e)),
    }
}

/// Writes `token` to `path`, readable by its owner only (0600 on Unix), atomically.
pub fn save_token(path: &Path, token: &str) -> Result<(), RemoteError> {
    let io = |source| RemoteError::TokenFile {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let staged = path.with_extension("token-new");
    let _ = fs::remove_file(&staged);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&staged).map_err(io)?;
    writeln!(file, "{}", token.trim()).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&staged, path).map_err(io)
}

/// Whether others than the owner may read `path` (Unix permissions); `false` elsewhere.
#[must_use]
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

fn random_token() -> Result<String, RemoteError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| RemoteError::NoRandomness(e.to_string()))?;
    Ok(bytes.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_token_file_is_created_owner_only_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("server.token");
        let (token, created) = load_or_create_token(&path).unwrap();
        assert!(created);
        assert_eq!(token.len(), 2 * TOKEN_BYTES);
        assert!(!readable_by_others(&path));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (again, created) = load_or_create_token(&path).unwrap();
        assert_eq!((again.as_str(), created), (token.as_str(), false));
        let (other, _) = load_or_create_token(&dir.path().join("other.token")).unwrap();
        assert_ne!(other, token, "tokens are random");
    }

    #[test]
    fn a_saved_token_reads_back_and_stays_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("remote.token");
        save_token(&path, " abc123 \n").unwrap();
        assert_eq!(read_token(&path).unwrap(), "abc123");
        save_token(&path, "def456").unwrap();
        assert_eq!(read_token(&path).unwrap(), "def456");
        assert!(!readable_by_others(&path));
    }

    #[test]
    fn an_empty_or_missing_token_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.token");
        fs::write(&empty, " \n").unwrap();
        assert!(
            read_token(&empty)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let missing = dir.path().join("missing.token");
        assert!(
            read_token(&missing)
                .unwrap_err()
                .to_string()
                .contains("missing.token")
        );
    }
}

//! Secrets never reach stderr: the credentials a run uses (from the environment or an AWS
//! profile) are registered here, and every error line and log line is passed through
//! [`redact`] before it is written, so an S3 error body or a debug dump that echoes an access
//! key, a secret or a session token shows `[REDACTED]` instead.

use std::borrow::Cow;
use std::sync::Mutex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Values shorter than this are not secrets worth hiding (and would blank common words).
const MIN_LEN: usize = 8;

/// Remembers a secret to hide. Empty or short values are ignored.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_LEN {
        return;
    }
    if let Ok(mut all) = SECRETS.lock()
        && !all.iter().any(|s| s == secret)
    {
        all.push(secret.to_string());
        // Longest first, so a secret that contains another is hidden whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Registers the credentials of the standard AWS environment variables.
pub fn register_env() {
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        if let Ok(value) = std::env::var(name) {
            register(&value);
        }
    }
}

/// `text` with every registered secret replaced by `[REDACTED]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let Ok(all) = SECRETS.lock() else {
        return Cow::Borrowed(text);
    };
    let mut out = Cow::Borrowed(text);
    for secret in all.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "[REDACTED]"));
        }
    }
    out
}

/// Standard error through [`redact`], for the log subscriber: each log event is one write.
pub struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_hidden_longest_first() {
        register("AKIAEXAMPLEKEY123");
        register("AKIAEXAMPLEKEY123-and-more");
        register("short");
        let text = "id AKIAEXAMPLEKEY123-and-more / AKIAEXAMPLEKEY123 / short";
        assert_eq!(redact(text), "id [REDACTED] / [REDACTED] / short");
    }
}

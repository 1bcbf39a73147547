//! The env file handed to `wrangler dev --env-file`: the Worker's secrets and flags for local
//! runs. wrangler parses it with `dotenv` and then expands `$VAR` references with
//! `dotenv-expand`, so values are quoted and `$` is escaped.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// File (in the persist dir) holding the generated `EXECUTOR_SECRET_KEY`, reused on restart.
pub const SECRET_FILE: &str = "executor-dev-secret";
/// File (in the persist dir) passed to `wrangler dev --env-file`.
pub const ENV_FILE: &str = "executor-dev.env";

/// The defaults for local runs: the secret, dev auth, and loopback fixtures allowed.
pub fn default_vars(secret_hex: &str) -> Vec<(String, String)> {
    vec![
        ("EXECUTOR_SECRET_KEY".into(), secret_hex.into()),
        ("ENABLE_DEV_AUTH".into(), "true".into()),
        ("ALLOW_LOCAL_NETWORK".into(), "true".into()),
    ]
}

/// `defaults` with `overrides` applied in order: a key with a value replaces (or appends),
/// a key with an empty value removes the entry.
pub fn merge(
    defaults: &[(String, String)],
    overrides: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = defaults.to_vec();
    for (key, value) in overrides {
        if value.is_empty() {
            out.retain(|(k, _)| k != key);
        } else if let Some(slot) = out.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value.clone();
        } else {
            out.push((key.clone(), value.clone()));
        }
    }
    out
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One value in dotenv syntax that reads back as exactly `value` after wrangler's
/// dotenv + dotenv-expand.
pub fn quote_value(value: &str) -> Result<String> {
    if value.contains('\n') || value.contains('\r') {
        anyhow::bail!("env-file values cannot contain line breaks");
    }
    let bare = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.,:/@+=%".contains(c));
    if bare {
        return Ok(value.to_string());
    }
    // dotenv-expand turns `\$` back into `$` and leaves other backslashes alone.
    let escaped = value.replace('$', "\\$");
    for quote in ['\'', '"', '`'] {
        if !escaped.contains(quote) {
            return Ok(format!("{quote}{escaped}{quote}"));
        }
    }
    anyhow::bail!("env-file values cannot contain all of ', \" and `")
}

/// Renders `vars` as an env file.
pub fn render(vars: &[(String, String)]) -> Result<String> {
    let mut out = String::from("# Written by `provision`; regenerated on every start.\n");
    for (key, value) in vars {
        anyhow::ensure!(valid_key(key), "invalid env-file key `{key}`");
        let quoted = quote_value(value).with_context(|| format!("env-file entry `{key}`"))?;
        out.push_str(&format!("{key}={quoted}\n"));
    }
    Ok(out)
}

/// Writes `contents` to `path` with mode 0600.
pub fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("chmod 600 {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// 32 random bytes as 64 lowercase hex characters.
pub fn random_hex32() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn is_secret(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// The persist dir's `EXECUTOR_SECRET_KEY`: read from [`SECRET_FILE`], or generated and saved
/// (mode 0600) so restarts decrypt what earlier runs stored.
pub fn load_or_create_secret(dir: &Path) -> Result<String> {
    let path = dir.join(SECRET_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = text.trim();
        if is_secret(text) {
            return Ok(text.to_string());
        }
    }
    let secret = random_hex32()?;
    write_private(&path, &format!("{secret}\n"))?;
    Ok(secret)
}

/// Writes [`ENV_FILE`] into `dir`: the defaults merged with `overrides`. Returns its path.
pub fn write_env_file(dir: &Path, overrides: &[(String, String)]) -> Result<std::path::PathBuf> {
    let secret = load_or_create_secret(dir)?;
    let vars = merge(&default_vars(&secret), overrides);
    let path = dir.join(ENV_FILE);
    write_private(&path, &render(&vars)?)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn merge_overrides_appends_and_removes() {
        let merged = merge(
            &default_vars("ab"),
            &[
                kv("ENABLE_DEV_AUTH", ""),
                kv("ALLOW_LOCAL_NETWORK", "false"),
                kv("ACCESS_AUD", "aud-1"),
                kv("NOT_THERE", ""),
            ],
        );
        assert_eq!(
            merged,
            vec![
                kv("EXECUTOR_SECRET_KEY", "ab"),
                kv("ALLOW_LOCAL_NETWORK", "false"),
                kv("ACCESS_AUD", "aud-1"),
            ]
        );
    }

    #[test]
    fn values_are_quoted_for_dotenv_expand() {
        assert_eq!(quote_value("true").expect("bare"), "true");
        assert_eq!(
            quote_value("https://t.cloudflareaccess.com").expect("url"),
            "https://t.cloudflareaccess.com"
        );
        assert_eq!(quote_value("a b").expect("space"), "'a b'");
        assert_eq!(quote_value("p$ss").expect("dollar"), "'p\\$ss'");
        assert_eq!(quote_value("it's").expect("apostrophe"), "\"it's\"");
        assert_eq!(
            quote_value(r#"{"keys":[]}"#).expect("json"),
            r#"'{"keys":[]}'"#
        );
        assert_eq!(quote_value("").expect("empty"), "");
        assert!(quote_value("a\nb").is_err());
        assert!(quote_value("'\"`").is_err());
    }

    #[test]
    fn render_checks_keys() {
        let text = render(&[kv("A_1", "x y")]).expect("render");
        assert!(text.ends_with("A_1='x y'\n"), "{text}");
        assert!(render(&[kv("1A", "x")]).is_err());
        assert!(render(&[kv("A-B", "x")]).is_err());
    }

    #[test]
    fn secret_is_generated_once_and_private() {
        let dir = std::env::temp_dir().join(format!("provision-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let first = load_or_create_secret(&dir).expect("create");
        assert!(is_secret(&first));
        assert_eq!(load_or_create_secret(&dir).expect("reuse"), first);
        let path = write_env_file(&dir, &[kv("ENABLE_DEV_AUTH", "")]).expect("env file");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(&format!("EXECUTOR_SECRET_KEY={first}\n")));
        assert!(!text.contains("ENABLE_DEV_AUTH"));
        assert!(text.contains("ALLOW_LOCAL_NETWORK=true\n"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}

//! The workspace secrets vault: values encrypted at rest with XChaCha20-Poly1305 under a key
//! that never enters the database (`SITREP_VAULT_KEY`, else the `vault.key_file`, created on
//! the first set). Write-only through every edge: set, list names, delete, re-key; a value is
//! decrypted only to hand it to a task run (`Sitrep::slx_secrets`). `docs/secrets.md`.

use crate::{EngineError, Result, Sitrep};
use base64::Engine;
use chacha20poly1305::aead::common::Generate;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sitrep_core::Timestamp;
use sitrep_core::secret::{SecretRecord, check_name, check_value};
use sitrep_store::SecretStore;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The environment variable that holds the key (base64 or hex); it wins over the key file.
pub const KEY_ENV: &str = "SITREP_VAULT_KEY";
/// The key file's name under `$SITREP_HOME` unless `vault.key_file` says otherwise.
pub const KEY_FILE: &str = "vault.key";

/// Why the vault cannot do what was asked. No message ever contains a secret's value or a key.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A name or value the vault does not take; the message says what it takes.
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the vault key is missing: {KEY_ENV} is not set and {} does not exist; restore the key from a backup (without it the stored secrets cannot be read: set them again)",
        path.display()
    )]
    NoKey { path: PathBuf },
    #[error("cannot read the vault key {}: {source}; check that sitrep may read it", path.display())]
    KeyRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the vault key {}: {source}; check that its folder is writable, or set {KEY_ENV}", path.display())]
    KeyWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the vault key in {from} is not 32 bytes written as base64 or as 64 hex digits; make one with: head -c 32 /dev/urandom | base64"
    )]
    BadKey { from: String },
    #[error(
        "secret {name:?} was stored with vault key {stored}, but the key configured now is {configured}: configure the key it was stored with ({KEY_ENV} or vault.key_file), or set the secret again"
    )]
    WrongKey {
        name: String,
        stored: String,
        configured: String,
    },
    #[error(
        "secret {name:?} cannot be decrypted with its key: its stored form was altered or copied from another name or workspace; set it again"
    )]
    Undecryptable { name: String },
}

/// A 32-byte vault key. Its `Debug` shows only its id.
#[derive(Clone)]
pub struct VaultKey {
    bytes: [u8; 32],
    id: String,
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VaultKey({})", self.id)
    }
}

impl VaultKey {
    fn new(bytes: [u8; 32]) -> VaultKey {
        // A fingerprint that names the key in records and errors without revealing it.
        let digest = Sha256::new()
            .chain_update(b"sitrep vault key id\0")
            .chain_update(bytes)
            .finalize();
        let id = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        VaultKey { bytes, id }
    }

    /// A new random key.
    pub fn generate() -> VaultKey {
        let key = Key::generate();
        VaultKey::new(key.into())
    }

    /// A key written as base64 (standard alphabet, padded or not) or as 64 hex digits;
    /// `from` names where it came from in the error.
    pub fn parse(text: &str, from: &str) -> std::result::Result<VaultKey, VaultError> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t))
                .ok()
        };
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(VaultKey::new)
            .ok_or_else(|| VaultError::BadKey { from: from.into() })
    }

    /// The key's fingerprint, stored beside each secret it encrypted.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.bytes))
    }

    /// Reads a key file, creating it with a new key (mode 0600) when it does not exist and
    /// `create` is set. Blocking: call it off the async runtime.
    fn from_file(path: &Path, create: bool) -> std::result::Result<VaultKey, VaultError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(m) = std::fs::metadata(path)
                    && m.permissions().mode() & 0o077 != 0
                {
                    tracing::warn!(path = %path.display(), "the vault key can be read by other users; make it private (chmod 600)");
                }
                VaultKey::parse(&text, &path.display().to_string())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => create_key_file(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(VaultError::NoKey {
                path: path.to_path_buf(),
            }),
            Err(source) => Err(VaultError::KeyRead {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

/// Writes a new key to `path` atomically: a private temporary file linked into place, so a
/// concurrent first `set` in another process reads the one key that won.
fn create_key_file(path: &Path) -> std::result::Result<VaultKey, VaultError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| VaultError::KeyWrite {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let key = VaultKey::generate();
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        writeln!(
            f,
            "{}",
            base64::engine::general_purpose::STANDARD.encode(key.bytes)
        )?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), key = %key.id, "vault key created; back it up: without it the stored secrets cannot be read");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => VaultKey::from_file(path, false),
        Err(e) => Err(err(e)),
    }
}

/// What binds a ciphertext to its place: it decrypts only as this workspace's secret `name`.
fn aad(workspace: &str, name: &str) -> Vec<u8> {
    format!("sitrep secret\0{workspace}\0{name}").into_bytes()
}

/// Encrypts `value` as the workspace's secret `name`, with a fresh random nonce.
pub fn seal(
    key: &VaultKey,
    workspace: &str,
    name: &str,
    value: &str,
    now: Timestamp,
) -> SecretRecord {
    let nonce = XNonce::generate();
    let aad = aad(workspace, name);
    let ciphertext = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: value.as_bytes(),
                aad: &aad,
            },
        )
        .expect("encrypting a bounded value in memory cannot fail");
    SecretRecord {
        workspace: workspace.into(),
        name: name.into(),
        nonce: nonce.to_vec(),
        ciphertext,
        key_id: key.id.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// Decrypts a stored secret; a record of another key, or one altered or moved, is refused.
pub fn open(key: &VaultKey, r: &SecretRecord) -> std::result::Result<String, VaultError> {
    if r.key_id != key.id {
        return Err(VaultError::WrongKey {
            name: r.name.clone(),
            stored: r.key_id.clone(),
            configured: key.id.clone(),
        });
    }
    let undecryptable = || VaultError::Undecryptable {
        name: r.name.clone(),
    };
    let nonce = XNonce::try_from(r.nonce.as_slice()).map_err(|_| undecryptable())?;
    let aad = aad(&r.workspace, &r.name);
    let plain = key
        .cipher()
        .decrypt(
            &nonce,
            Payload {
                msg: &r.ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| undecryptable())?;
    String::from_utf8(plain).map_err(|_| undecryptable())
}

/// A secret as every listing shows it: its name and times, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretView {
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&SecretRecord> for SecretView {
    fn from(r: &SecretRecord) -> Self {
        SecretView {
            name: r.name.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RekeyView {
    /// Secrets re-encrypted under the new key.
    pub rekeyed: usize,
    /// Secrets that already were under it.
    pub unchanged: usize,
    /// The new key's id.
    pub key_id: String,
}

/// Reads a key file for a rotation, creating it with a new key when it does not exist.
pub async fn key_file(path: &Path) -> Result<VaultKey> {
    let p = path.to_path_buf();
    Ok(blocking(move || VaultKey::from_file(&p, true)).await??)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::Invalid(format!("reading the vault key crashed: {e}")))
}

impl Sitrep {
    /// The configured key: `SITREP_VAULT_KEY`, else the key file (created when `create`).
    async fn vault_key(&self, create: bool) -> Result<VaultKey> {
        if let Some(text) = std::env::var(KEY_ENV).ok().filter(|v| !v.trim().is_empty()) {
            return Ok(VaultKey::parse(&text, KEY_ENV)?);
        }
        let path = self.settings().vault.key_file(self.home());
        Ok(blocking(move || VaultKey::from_file(&path, create)).await??)
    }

    /// Stores (or replaces) the workspace's secret `name`, encrypted.
    pub async fn set_secret(&self, name: &str, value: &str) -> Result<SecretView> {
        check_name(name).map_err(VaultError::Invalid)?;
        check_value(value).map_err(VaultError::Invalid)?;
        let key = self.vault_key(true).await?;
        let store = self.store().await?;
        store
            .put_secret(&seal(&key, self.workspace(), name, value, self.now()))
            .await?;
        let stored = store.get_secret(self.workspace(), name).await?;
        tracing::info!(secret = name, key = %key.id, "secret set");
        stored
            .as_ref()
            .map(SecretView::from)
            .ok_or_else(|| EngineError::not_found("secret", name, "it was deleted as it was set"))
    }

    /// The workspace's secrets by name (never their values).
    pub async fn secrets(&self) -> Result<Vec<SecretView>> {
        let list = self.store().await?.list_secrets(self.workspace()).await?;
        Ok(list.iter().map(SecretView::from).collect())
    }

    /// Deletes the workspace's secret `name`.
    pub async fn delete_secret(&self, name: &str) -> Result<SecretView> {
        let gone = self
            .store()
            .await?
            .delete_secret(self.workspace(), name)
            .await?
            .ok_or_else(|| {
                EngineError::not_found(
                    "secret",
                    name,
                    "list the workspace's secrets for their names",
                )
            })?;
        tracing::info!(secret = name, "secret deleted");
        Ok(SecretView::from(&gone))
    }

    /// Key rotation: re-encrypts every secret of the workspace under `new`, in one
    /// transaction. The configured key must be the one they are stored with; afterwards,
    /// configure `new` in its place (`docs/secrets.md`).
    pub async fn rekey_secrets(&self, new: &VaultKey) -> Result<RekeyView> {
        let store = self.store().await?;
        let list = store.list_secrets(self.workspace()).await?;
        let (done, todo): (Vec<_>, Vec<_>) = list.into_iter().partition(|r| r.key_id == new.id);
        let mut pairs = vec![];
        if !todo.is_empty() {
            let old = self.vault_key(false).await?;
            for r in todo {
                let value = open(&old, &r)?;
                let mut n = seal(new, &r.workspace, &r.name, &value, r.created_at);
                n.updated_at = r.updated_at;
                pairs.push((r, n));
            }
            store.rekey_secrets(self.workspace(), &pairs).await?;
            tracing::info!(count = pairs.len(), from = %old.id, to = %new.id, "vault re-encrypted");
        }
        Ok(RekeyView {
            rekeyed: pairs.len(),
            unchanged: done.len(),
            key_id: new.id.clone(),
        })
    }

    /// The values of the stored secrets among `names`, decrypted for a run. Names the vault
    /// does not have are left out (the runner says which secret is missing); the key is read
    /// only when there is something to decrypt.
    pub(crate) async fn vault_values(
        &self,
        names: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, String>> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let stored: Vec<SecretRecord> = self
            .store()
            .await?
            .list_secrets(self.workspace())
            .await?
            .into_iter()
            .filter(|r| names.contains(&r.name))
            .collect();
        if stored.is_empty() {
            return Ok(BTreeMap::new());
        }
        let key = self.vault_key(false).await?;
        stored
            .iter()
            .map(|r| Ok((r.name.clone(), open(&key, r)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "canary-7f3a9c1e";

    fn key() -> VaultKey {
        VaultKey::generate()
    }

    #[test]
    fn a_value_round_trips_and_its_record_hides_it() {
        let k = key();
        let r = seal(&k, "w", "pg", VALUE, Timestamp(5));
        assert_eq!(r.nonce.len(), 24);
        assert_eq!(r.key_id, k.id());
        let bytes = [r.nonce.clone(), r.ciphertext.clone()].concat();
        assert!(!bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()));
        assert_eq!(open(&k, &r).unwrap(), VALUE);
        // A fresh nonce each time: the same value never gives the same ciphertext.
        let again = seal(&k, "w", "pg", VALUE, Timestamp(5));
        assert_ne!((&again.nonce, &again.ciphertext), (&r.nonce, &r.ciphertext));
    }

    #[test]
    fn a_wrong_key_is_named_and_the_value_is_not() {
        let r = seal(&key(), "w", "pg", VALUE, Timestamp(5));
        let other = key();
        let e = open(&other, &r).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, VaultError::WrongKey { .. }), "{text}");
        assert!(
            text.contains(&r.key_id) && text.contains(other.id()),
            "{text}"
        );
        assert!(text.contains(KEY_ENV) && !text.contains(VALUE), "{text}");
        // A key that claims the right id but is not the key still decrypts nothing.
        let mut forged = other.clone();
        forged.id = r.key_id.clone();
        assert!(matches!(
            open(&forged, &r),
            Err(VaultError::Undecryptable { .. })
        ));
    }

    #[test]
    fn a_ciphertext_is_bound_to_its_workspace_and_name() {
        let k = key();
        let r = seal(&k, "w", "pg", VALUE, Timestamp(5));
        for (ws, name) in [("w", "other"), ("x", "pg")] {
            let moved = SecretRecord {
                workspace: ws.into(),
                name: name.into(),
                ..r.clone()
            };
            let e = open(&k, &moved).unwrap_err();
            assert!(matches!(e, VaultError::Undecryptable { .. }), "{e}");
            assert!(!e.to_string().contains(VALUE));
        }
        let mut flipped = r.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(open(&k, &flipped).is_err());
    }

    #[test]
    fn keys_parse_from_base64_or_hex_and_nothing_else() {
        let k = key();
        let b64 = base64::engine::general_purpose::STANDARD.encode(k.bytes);
        let hex: String = k.bytes.iter().map(|b| format!("{b:02x}")).collect();
        for text in [
            b64.clone(),
            format!("{b64}\n"),
            b64.trim_end_matches('=').into(),
            hex,
        ] {
            assert_eq!(VaultKey::parse(&text, "t").unwrap().id(), k.id(), "{text}");
        }
        let (hex63, short_b64) = (
            "a".repeat(63),
            base64::engine::general_purpose::STANDARD.encode([1u8; 16]),
        );
        for bad in ["", "short", hex63.as_str(), short_b64.as_str()] {
            let e = VaultKey::parse(bad, "the file").unwrap_err().to_string();
            assert!(e.contains("the file") && e.contains("32 bytes"), "{e}");
        }
        assert_eq!(format!("{k:?}"), format!("VaultKey({})", k.id()));
    }

    #[test]
    fn a_key_file_is_created_private_once_and_read_after() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/vault.key");
        let e = VaultKey::from_file(&path, false).unwrap_err();
        assert!(matches!(e, VaultError::NoKey { .. }), "{e}");
        let k = VaultKey::from_file(&path, true).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(VaultKey::from_file(&path, true).unwrap().id(), k.id());
        assert_eq!(VaultKey::from_file(&path, false).unwrap().id(), k.id());
        // No temporary file is left beside it.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}

//! API tokens: created with a role in this workspace, shown once, stored as a hash, checked on
//! every request of an edge that serves remote callers (the server, the MCP endpoint).

use crate::{EngineError, Result, Sitrep};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sitrep_core::access::{Role, TokenRecord, TokenRefusal};
use sitrep_store::TokenStore;
use std::time::Duration;

/// Every secret starts with this, so a leaked one is easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "sitrep_";

/// A token just created: its record and the secret, which is never shown again.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: TokenRecord,
    pub secret: String,
}

/// Who is calling, once their token is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub workspace: String,
    pub token_id: String,
    pub name: String,
    pub role: Role,
}

impl Principal {
    /// `Ok` when the caller's role includes `needed`; the error says which role it takes.
    pub fn require(&self, needed: Role) -> std::result::Result<(), AccessError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(AccessError::Forbidden {
                role: self.role,
                needed,
            })
        }
    }
}

/// Why a request is refused. The server maps the first five to 401 and the others to 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error(
        "no token: send `Authorization: Bearer <token>` (create one with `sitrep token create`)"
    )]
    Missing,
    #[error("the token is not known here: it may be mistyped or from another sitrep")]
    Unknown,
    #[error("the token was revoked: ask an admin of the workspace for a new one")]
    Revoked,
    #[error("the token has expired: ask an admin of the workspace for a new one")]
    Expired,
    /// A signed request (a generic webhook) whose signature does not hold.
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("the token is for another workspace, not {0:?}")]
    OtherWorkspace(String),
    #[error(
        "the token is for workspace {0:?}, which this server does not serve: a workspace is served when its folder, $SITREP_HOME/workspaces/NAME, exists as the server starts"
    )]
    NotServed(String),
    #[error("this needs the {needed} role; the token has the {role} role")]
    Forbidden { role: Role, needed: Role },
}

impl AccessError {
    /// Whether the caller is not identified (401) rather than not allowed (403).
    pub fn is_unauthenticated(&self) -> bool {
        !matches!(
            self,
            AccessError::Forbidden { .. }
                | AccessError::OtherWorkspace(_)
                | AccessError::NotServed(_)
        )
    }
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_secret() -> String {
    // Two v4 UUIDs: 244 bits from the operating system's random source.
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{TOKEN_PREFIX}{a}{b}")
}

impl Sitrep {
    /// Creates a token of this workspace with `role`, valid for `ttl` (forever when `None`).
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        ttl: Option<Duration>,
    ) -> Result<CreatedToken> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(EngineError::Invalid(
                "a token's name is 1 to 100 printable characters (who or what it is for)".into(),
            ));
        }
        let now = self.now();
        let secret = new_secret();
        let token = TokenRecord {
            id: format!("tok-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            workspace: self.workspace().to_string(),
            name: name.to_string(),
            role,
            hash: hash_secret(&secret),
            created_at: now,
            expires_at: ttl.map(|d| now.add(d)),
            revoked_at: None,
        };
        self.store().await?.put_token(&token).await?;
        tracing::info!(token = %token.id, role = %role, "token created");
        Ok(CreatedToken { token, secret })
    }

    /// Every token of this workspace, revoked ones included, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        Ok(self.store().await?.list_tokens(self.workspace()).await?)
    }

    /// Revokes a token of this workspace from now on.
    pub async fn revoke_token(&self, id: &str) -> Result<TokenRecord> {
        let store = self.store().await?;
        let t = store
            .revoke_token(self.workspace(), id, self.now())
            .await?
            .ok_or_else(|| EngineError::not_found("token", id, "tokens are listed by id"))?;
        tracing::info!(token = %t.id, "token revoked");
        Ok(t)
    }

    /// Checks a presented secret: known, not revoked or expired, and of this workspace.
    pub async fn authenticate(&self, secret: Option<&str>) -> Result<Principal> {
        let p = self.principal(secret).await?;
        if p.workspace != self.workspace() {
            return Err(AccessError::OtherWorkspace(self.workspace().to_string()).into());
        }
        Ok(p)
    }

    /// Who a presented secret is, in whichever workspace of this home's database its token
    /// belongs to: known, not revoked, not expired.
    pub(crate) async fn principal(&self, secret: Option<&str>) -> Result<Principal> {
        let secret = secret
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(AccessError::Missing)?;
        let token = self
            .store()
            .await?
            .token_by_hash(&hash_secret(secret))
            .await?
            .ok_or(AccessError::Unknown)?;
        token.check(self.now()).map_err(|r| match r {
            TokenRefusal::Revoked => AccessError::Revoked,
            TokenRefusal::Expired => AccessError::Expired,
        })?;
        Ok(Principal {
            workspace: token.workspace,
            token_id: token.id,
            name: token.name,
            role: token.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_prefixed_and_hashed_one_way() {
        let s = new_secret();
        assert!(s.starts_with(TOKEN_PREFIX));
        assert_eq!(s.len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(new_secret(), s);
        let h = hash_secret(&s);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&s[TOKEN_PREFIX.len()..]));
        assert_eq!(hash_secret(&s), h);
    }

    #[test]
    fn only_a_role_that_includes_the_needed_one_passes() {
        let p = Principal {
            workspace: "w".into(),
            token_id: "t".into(),
            name: "n".into(),
            role: Role::Operator,
        };
        assert!(p.require(Role::Viewer).is_ok());
        let e = p.require(Role::Approver).unwrap_err();
        assert!(!e.is_unauthenticated());
        assert_eq!(
            e.to_string(),
            "this needs the approver role; the token has the operator role"
        );
    }
}

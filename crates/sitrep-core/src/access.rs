//! Access: API tokens scoped to one workspace with a role, and what each role may do.
//!
//! The token's secret is shown once when it is created and stored only as a hash; the
//! record below is what every listing shows. Roles are ordered: each one may do what the
//! roles before it may.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a token may do in its workspace. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of the workspace (issues, runs, sessions, the Map), except secrets.
    Viewer,
    /// Also runs diagnostic tasks and starts investigations.
    Operator,
    /// Also approves or denies remediations.
    Approver,
    /// Also manages the workspace: tokens, secrets, settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use viewer, operator, approver or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// A stored API token: never its secret, only the secret's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub workspace: String,
    /// Who or what it is for ("ci", "alice").
    pub name: String,
    pub role: Role,
    /// The hex SHA-256 of the secret; never shown.
    #[serde(skip_serializing, default)]
    pub hash: String,
    pub created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

/// Why a presented token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Revoked,
    Expired,
}

impl TokenRecord {
    /// Whether the token may be used at `now`.
    pub fn check(&self, now: Timestamp) -> Result<(), TokenRefusal> {
        if self.revoked_at.is_some_and(|t| t <= now) {
            return Err(TokenRefusal::Revoked);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            return Err(TokenRefusal::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> TokenRecord {
        TokenRecord {
            id: "t1".into(),
            workspace: "w".into(),
            name: "ci".into(),
            role: Role::Operator,
            hash: "abc".into(),
            created_at: Timestamp(0),
            expires_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn each_role_includes_the_ones_before_it() {
        assert!(Role::Admin.allows(Role::Approver));
        assert!(Role::Approver.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Approver));
        assert!(!Role::Approver.allows(Role::Admin));
    }

    #[test]
    fn roles_parse_by_name_and_refuse_others() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert_eq!(" Admin ".parse::<Role>().unwrap(), Role::Admin);
        let e = "root".parse::<Role>().unwrap_err();
        assert!(
            e.to_string()
                .contains("viewer, operator, approver or admin")
        );
    }

    #[test]
    fn a_revoked_or_expired_token_is_refused() {
        let mut t = token();
        assert_eq!(t.check(Timestamp(10)), Ok(()));
        t.expires_at = Some(Timestamp(10));
        assert_eq!(t.check(Timestamp(9)), Ok(()));
        assert_eq!(t.check(Timestamp(10)), Err(TokenRefusal::Expired));
        t.revoked_at = Some(Timestamp(5));
        assert_eq!(t.check(Timestamp(6)), Err(TokenRefusal::Revoked));
    }

    #[test]
    fn the_hash_is_never_serialised() {
        let json = serde_json::to_string(&token()).unwrap();
        assert!(!json.contains("abc"), "{json}");
    }
}

//! Owner partitioning (executor-behaviour.md §4.2): every owned row carries `tenant`, `owner`
//! (`org` | `user`) and `subject` (`""` for org rows, the user's id for user rows). A caller bound
//! to `(tenant T, subject S)` sees `tenant = T AND (owner = 'org' OR (owner = 'user' AND
//! subject = S))`; writes land in exactly one partition, named by a [`Partition`].

use serde::{Deserialize, Serialize};

use crate::auth::Principal;

/// Who owns a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    Org,
    User,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Org => "org",
            Owner::User => "user",
        }
    }

    /// `org` or `user`; anything else is `None` (a 400 at the route).
    pub fn parse(value: &str) -> Option<Owner> {
        match value {
            "org" => Some(Owner::Org),
            "user" => Some(Owner::User),
            _ => None,
        }
    }
}

/// One owner partition: where a row is written and which single partition a keyed read targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub tenant: String,
    pub owner: Owner,
    /// `""` for org rows.
    pub subject: String,
}

/// The caller has no subject, so it cannot own `user` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSubject;

impl Partition {
    /// The partition `owner` names for this caller: the tenant's org partition, or the caller's
    /// own user partition.
    pub fn of(principal: &Principal, owner: Owner) -> Result<Partition, NoSubject> {
        let subject = match owner {
            Owner::Org => String::new(),
            Owner::User if principal.subject().is_empty() => return Err(NoSubject),
            Owner::User => principal.subject().to_string(),
        };
        Ok(Partition {
            tenant: principal.tenant().to_string(),
            owner,
            subject,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Config;

    #[test]
    fn partitions() {
        let mut principal = crate::auth::dev_principal(&Config::for_tests());
        let org = Partition::of(&principal, Owner::Org).unwrap();
        assert_eq!((org.owner, org.subject.as_str()), (Owner::Org, ""));
        let user = Partition::of(&principal, Owner::User).unwrap();
        assert_eq!(user.subject, "dev");
        assert_eq!(user.tenant, principal.tenant());
        principal.account_id.clear();
        assert_eq!(Partition::of(&principal, Owner::User), Err(NoSubject));
        assert_eq!(Owner::parse("org"), Some(Owner::Org));
        assert_eq!(Owner::parse("Org"), None);
    }
}

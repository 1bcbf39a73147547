//! Tool addresses (executor-behaviour.md §7.3, §8.7, §9).
//!
//! A connection's tool is `tools.<integration>.<owner>.<connection>.<name…>` (the name keeps its
//! own dots, e.g. `pets.getPet`); its policy target id and search path are the same text without
//! `tools.`. Built-in tools are addressed `executor.<name…>` and have no `tools.` form.

use crate::owner::Owner;

const PREFIX: &str = "tools.";

/// One connection's tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicAddress {
    pub integration: String,
    pub owner: Owner,
    pub connection: String,
    /// The tool name inside the connection (`pets.getPet`).
    pub name: String,
}

impl DynamicAddress {
    /// Parses `tools.<integration>.<org|user>.<connection>.<name…>`; `None` for anything else
    /// (empty segments included).
    pub fn parse(address: &str) -> Option<DynamicAddress> {
        let rest = address.strip_prefix(PREFIX)?;
        let mut parts = rest.splitn(4, '.');
        let integration = parts.next()?;
        let owner = Owner::parse(parts.next()?)?;
        let connection = parts.next()?;
        let name = parts.next()?;
        if integration.is_empty() || connection.is_empty() || name.split('.').any(str::is_empty) {
            return None;
        }
        Some(DynamicAddress {
            integration: integration.to_owned(),
            owner,
            connection: connection.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `tools.<integration>.<owner>.<connection>.<name>`.
    pub fn address(&self) -> String {
        format!("{PREFIX}{}", self.target_id())
    }

    /// The address without `tools.`: the policy target id and the search path.
    pub fn target_id(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.integration,
            self.owner.as_str(),
            self.connection,
            self.name
        )
    }
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolAddress {
    Dynamic(DynamicAddress),
    /// Anything else, used verbatim as a built-in tool id (`executor.coreTools.…`); it may name
    /// nothing.
    Static(String),
}

impl ToolAddress {
    /// An address as the HTTP API receives it (`GET /api/tools/schema?address=`).
    pub fn parse(address: &str) -> ToolAddress {
        match DynamicAddress::parse(address) {
            Some(dynamic) => ToolAddress::Dynamic(dynamic),
            None => ToolAddress::Static(address.to_owned()),
        }
    }

    /// A sandbox call path (`tools.a.b(…)` calls path `a.b`), resolved as §7.3 step 1: a
    /// connection tool when `tools.<path>` parses as one, the path itself when it already starts
    /// with `tools.`, otherwise a built-in tool id.
    pub fn from_sandbox_path(path: &str) -> ToolAddress {
        if let Some(dynamic) = DynamicAddress::parse(&format!("{PREFIX}{path}")) {
            return ToolAddress::Dynamic(dynamic);
        }
        ToolAddress::parse(path)
    }

    /// The path the agent sees (search results, `tool_not_found` details): no `tools.`.
    pub fn display_path(&self) -> String {
        match self {
            ToolAddress::Dynamic(d) => d.target_id(),
            ToolAddress::Static(id) => id.strip_prefix(PREFIX).unwrap_or(id).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dynamic_addresses() {
        let a = DynamicAddress::parse("tools.petstore.org.main.pets.getPet").unwrap();
        assert_eq!(
            a,
            DynamicAddress {
                integration: "petstore".into(),
                owner: Owner::Org,
                connection: "main".into(),
                name: "pets.getPet".into(),
            }
        );
        assert_eq!(a.address(), "tools.petstore.org.main.pets.getPet");
        assert_eq!(a.target_id(), "petstore.org.main.pets.getPet");
        for bad in [
            "petstore.org.main.pets.getPet",
            "tools.petstore.team.main.x",
            "tools.petstore.org.main",
            "tools.petstore.org.main.",
            "tools..org.main.x",
            "tools.petstore.org..x",
            "tools.petstore.org.main.pets..x",
        ] {
            assert_eq!(DynamicAddress::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sandbox_paths_resolve_as_upstream() {
        let dynamic = ToolAddress::from_sandbox_path("petstore.user.mine.listPets");
        assert!(matches!(&dynamic, ToolAddress::Dynamic(d) if d.owner == Owner::User));
        assert_eq!(dynamic.display_path(), "petstore.user.mine.listPets");
        // Already prefixed: used verbatim.
        assert!(matches!(
            ToolAddress::from_sandbox_path("tools.petstore.org.main.pets.getPet"),
            ToolAddress::Dynamic(d) if d.name == "pets.getPet"
        ));
        assert_eq!(
            ToolAddress::from_sandbox_path("executor.coreTools.connections.list"),
            ToolAddress::Static("executor.coreTools.connections.list".into())
        );
        assert_eq!(
            ToolAddress::from_sandbox_path("nope"),
            ToolAddress::Static("nope".into())
        );
        assert_eq!(
            ToolAddress::from_sandbox_path("tools.nope").display_path(),
            "nope"
        );
    }
}

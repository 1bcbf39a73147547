//! Repository rules that must hold without any toolchain beyond cargo:
//! only `src/edge/` names the platform crates; `provision` depends on none of them; binding
//! names in the edge agree with `wrangler.toml`.

use std::path::Path;

use crate::support::root;

const PLATFORM_TOKENS: &[&str] = &[
    "worker::",
    "use worker",
    "wasm_bindgen",
    "js_sys",
    "web_sys",
    "JsValue",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_edge_module_touches_the_platform() {
    let src = root().join("src");
    let edge = src.join("edge");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "found the sources");
    let mut offenders = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&edge)) {
        let text = std::fs::read_to_string(file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if let Some(token) = PLATFORM_TOKENS.iter().find(|t| code.contains(*t)) {
                offenders.push(format!("{}:{}: `{token}`", file.display(), n + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "platform names outside src/edge/:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn provision_depends_on_no_platform_crate() {
    let manifest = std::fs::read_to_string(root().join("provision/Cargo.toml")).expect("manifest");
    for name in ["worker", "wasm-bindgen", "js-sys", "web-sys", "executor ="] {
        let found = manifest.lines().any(|l| l.trim_start().starts_with(name));
        assert!(!found, "provision/Cargo.toml depends on `{name}`");
    }
}

#[test]
fn binding_names_agree_with_wrangler_toml() {
    let wrangler = std::fs::read_to_string(root().join("wrangler.toml")).expect("wrangler.toml");
    let bindings = std::fs::read_to_string(root().join("src/edge/bindings.rs")).expect("bindings");
    for (constant, expected_line) in [
        ("D1_BINDING: &str = \"DB\"", "binding = \"DB\""),
        ("R2_BINDING: &str = \"BLOBS\"", "binding = \"BLOBS\""),
        (
            "MCP_SESSION_BINDING: &str = \"MCP_SESSION\"",
            "name = \"MCP_SESSION\"",
        ),
    ] {
        assert!(bindings.contains(constant), "bindings.rs lacks {constant}");
        assert!(
            wrangler.contains(expected_line),
            "wrangler.toml lacks {expected_line}"
        );
    }
    assert!(wrangler.contains("class_name = \"McpSessionDO\""));
    assert!(wrangler.contains("new_sqlite_classes = [\"McpSessionDO\"]"));
    let edge =
        std::fs::read_to_string(root().join("src/edge/session_do.rs")).expect("session_do.rs");
    assert!(edge.contains("pub struct McpSessionDO"));
}

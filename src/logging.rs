//! One logging sink for the whole crate. The edge installs `console.log`; on the host lines go
//! to stderr. Callers must never pass secret values or tool arguments/results here.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

static SINK: OnceLock<fn(Level, &str)> = OnceLock::new();

/// Installs the process-wide sink; later calls are ignored.
pub fn install(sink: fn(Level, &str)) {
    let _ = SINK.set(sink);
}

pub fn log(level: Level, message: &str) {
    match SINK.get() {
        Some(sink) => sink(level, message),
        None => eprintln!("[{}] {message}", level.as_str()),
    }
}

pub fn info(message: &str) {
    log(Level::Info, message)
}

pub fn warn(message: &str) {
    log(Level::Warn, message)
}

pub fn error(message: &str) {
    log(Level::Error, message)
}

/// Bytes of wasm linear memory the isolate holds now. Linear memory never shrinks, so in a fresh
/// isolate this is also the peak so far: logging it after a large operation (spec ingest) shows
/// what that operation needed. `None` off wasm (host tests measure the allocator instead).
pub fn linear_memory_bytes() -> Option<usize> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(core::arch::wasm32::memory_size::<0>() * 65_536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

//! The profile as users write it, and the vocabulary every part's parser shares.
//!
//! [`def`] holds permissive serde structs mirroring `api.json`, `auth.json` and
//! `endpoints.json`; [`cx`] holds [`ConfigError`] (file, JSON path, what was found and
//! what was expected) and [`CompileCx`]; [`keys`] finds the keys a file holds that
//! nothing reads. Each part that owns a setting parses it from
//! its def (`AuthMethod::parse`, `Conditions::parse`, `Action::parse`, …), and
//! the `profile` module orchestrates the whole compile. This module imports nothing of
//! the parts it describes, so every part may import it.

mod cx;
mod def;
pub mod keys;

pub use cx::{CompileCx, ConfigError, ProfileError};
pub use def::*;

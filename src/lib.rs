//! smss — an SMS server for a local network.
//!
//! See `ARCHITECTURE.md` for the map of modules and how one message flows
//! through them.

pub mod client;
#[cfg(feature = "server")]
pub mod store;

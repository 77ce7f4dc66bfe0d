//! smss — an SMS server for a local network.
//!
//! Machines send `#phone;text` lines over TCP ([`server`], [`protocol`],
//! on the accept loop of [`listener`]); [`intake`], the one way in for every
//! entry point, checks the requests and commits them to a database queue
//! ([`store`]); a modem thread per modem ([`outbox`]) claims them and sends
//! them as SMS-SUBMIT PDUs ([`gsm`])
//! through AT commands on a serial port ([`modem`]). [`sim`] is a simulated
//! modem on a pseudo-terminal for tests and the demo. [`web`] is the web
//! interface and HTTP API of `serve`. See `ARCHITECTURE.md`.

pub mod checkin;
pub mod client;
pub mod duration;
pub mod run;
pub mod sendsms;

#[cfg(feature = "server")]
pub mod allow;
#[cfg(feature = "server")]
pub mod charset;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod commands;
#[cfg(feature = "server")]
pub mod config;
pub mod gsm;
#[cfg(feature = "server")]
pub mod hook;
#[cfg(feature = "server")]
pub mod intake;
#[cfg(feature = "server")]
pub mod listener;
#[cfg(feature = "server")]
pub mod lock;
#[cfg(feature = "server")]
pub mod manage;
#[cfg(feature = "server")]
pub mod modem;
#[cfg(feature = "server")]
pub mod options;
#[cfg(feature = "server")]
pub mod outbox;
#[cfg(feature = "server")]
pub mod owner;
#[cfg(feature = "server")]
pub mod pager;
#[cfg(feature = "server")]
pub mod password;
#[cfg(feature = "server")]
pub mod peer;
#[cfg(feature = "server")]
pub mod printable;
#[cfg(feature = "server")]
pub mod protocol;
#[cfg(feature = "server")]
pub mod receive;
#[cfg(feature = "server")]
pub mod secret;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod sim;
#[cfg(feature = "server")]
pub mod spool;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod token;
#[cfg(feature = "server")]
pub mod web;

//! Integration tests: one test binary (links once) driving the real `smss`
//! binary against the pty modem simulator and real databases.

mod util;

mod alertmanager;
mod calls;
mod cluster;
mod degraded;
mod escalation;
mod faults;
mod full_sim;
mod galera;
mod hostile;
mod hostile_web;
mod install;
mod integrations;
mod mistakes;
mod modems;
mod pager;
mod pdu_crosscheck;
mod pin;
mod properties;
mod protocol_net;
mod receive;
mod send_path;
mod status;
mod storms;
mod web;

//! `smss client`: one-shot requests over TCP, std only (builds on Windows).

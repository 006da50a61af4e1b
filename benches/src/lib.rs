//! Shared helpers for the byoid criterion benches (see `benches/README.md`).

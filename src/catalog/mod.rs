//! The caller's tool catalog across integrations: listing, schemas, search, describe and calls.
//! (Being built; see ARCHITECTURE.md.)

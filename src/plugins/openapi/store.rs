//! OpenAPI integrations in storage: ingest, generations of operation rows, per-connection tools. (Being built.)

//! Tool policies (executor-behaviour.md §9). (Being built.)

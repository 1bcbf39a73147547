//! Google Discovery bundles (executor-behaviour.md §3.4.4, §8.4): Discovery documents become one
//! OpenAPI 3.1 document ([`discovery`]), which is then stored, produced and invoked by the
//! OpenAPI pipeline under `plugin_id = 'google'` ([`store`]).

pub mod discovery;
pub mod store;

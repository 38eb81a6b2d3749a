//! The one integration test binary: real servers on free loopback ports, real HTTP.

#[macro_use]
mod common;

mod architecture;
mod atomic;
mod auth;
mod chaos;
mod cli;
mod cluster;
mod compose;
mod conformance;
mod cors;
mod durability;
mod generated;
mod histories;
mod import;
mod indexes;
mod integrity;
mod journal;
mod limits;
mod metrics;
mod mock_and_roll;
mod namespaces;
mod openapi;
mod persistence;
mod profiles;
mod redis_backend;
mod reload;
mod routing;
mod sessions;
mod shop;
mod system;
mod templates;
mod validation;

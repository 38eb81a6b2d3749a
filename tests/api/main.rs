//! The one integration test binary: real servers on free loopback ports, real HTTP.

mod auth;
mod cli;
mod common;
mod conformance;
mod durability;
mod persistence;
mod profiles;
mod redis_backend;
mod routing;
mod templates;
mod validation;

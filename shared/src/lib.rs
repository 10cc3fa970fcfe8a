//! WhatsPe domain crate: every function links it.
//!
//! Layers, top to bottom (dependencies point down only):
//! - [`app`], [`http`]: wiring and HTTP glue shared by the functions' routers.
//! - [`services`]: the business rules, written against the ports.
//! - [`memory`], [`aws`]: the two implementations of every port (in memory; DynamoDB, SQS,
//!   SNS and the API Gateway management API).
//! - [`ports`], [`frames`], [`config`]: the contracts (DynamoDB tables and key formats are
//!   the DynamoDB adapters' own: [`aws::dynamo::tables`], [`aws::dynamo::keys`]).
//! - [`domain`], [`error`], [`clock`], [`crypto`]: types that parse, errors, time, primitives.

pub mod app;
pub mod aws;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod frames;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod ports;
pub mod services;

pub use error::{Error, StoreError};

//! The unreplicated baseline: one server executes requests in arrival order and answers.
//! Same client interface as every replicated protocol; the denominator of every ratio.

mod client;
mod messages;
mod registry_entry;
mod server;

pub use client::UnreplicatedClient;
pub use messages::Message;
pub use registry_entry::Unreplicated;
pub use server::UnreplicatedServer;

#[cfg(test)]
mod tests;

//! The load engine: many protocol clients on one UDP socket, driven closed loop (each client
//! waits for its answer, then thinks) or open loop (requests at intended times from an
//! arrival process, latency measured from the intended time so coordinated omission is
//! corrected).

mod clients;
mod load;

pub use clients::{AnyClient, ReplyClient, new_client, reply_client};
pub use load::{LoadMode, LoadOutcome, LoadSpec, run_load, run_load_on};
pub use protocols::ProtocolKind;

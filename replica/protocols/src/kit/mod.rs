//! The replication kit: what every protocol would otherwise write again. Each protocol's
//! folder keeps only its own logic and reaches here for the rest:
//!
//! * [`blob`]: messages larger than a datagram, as numbered chunks reassembled at the
//!   receiver (view-change logs, START-VIEW, state-transfer images);
//! * [`image_codec`]: what every protocol's images (the blobs' payloads) encode alike;
//! * [`outbox`]: messages kept as values and encoded only into the driver's buffer;
//! * [`pending`]: a client's outstanding request, its resend and give-up timers;
//! * [`prevote`]: the pre-vote before a leader-timeout view change;
//! * [`state_transfer`]: asking peers in turn for a state image, serving and accepting one,
//!   and a recovering replica's poll of the others;
//! * [`view_change`]: the clock of a view-change attempt (resend, move on).

pub mod blob;
pub mod image_codec;
pub mod outbox;
pub mod pending;
pub mod prevote;
pub mod state_transfer;
pub mod view_change;

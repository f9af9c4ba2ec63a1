//! The replication kit: what every protocol would otherwise write again. Each protocol's
//! folder keeps only its own logic and reaches here for the rest:
//!
//! * [`blob`]: messages larger than a datagram, as numbered chunks reassembled at the
//!   receiver (view-change logs, START-VIEW, state-transfer images);
//! * [`client_core`]: a client's request ids, resends, give-up and completions, around
//!   each protocol's rules for where its REQUEST goes and which replies complete it;
//! * [`deadlines`]: a replica's next deadline, the earliest of the timers it has armed;
//! * [`framing`]: the envelope around every message, the OUM header on what goes through
//!   the sequencer, and the fields every protocol encodes the same way;
//! * [`image_codec`]: what every protocol's images (the blobs' payloads) encode alike;
//! * [`node`]: what a replica's `Node` impl repeats: decoding, telling peers from strangers,
//!   a blob's chunks out, the counters it reports;
//! * [`outbox`]: messages kept as values and encoded only into the driver's buffer;
//! * [`pending`]: a client's outstanding request, its resend and give-up timers;
//! * [`prevote`]: the pre-vote before a leader-timeout view change, its state and settings
//!   held by the replica, and the little each protocol supplies;
//! * [`recovery`]: recovery fences, the nonces that name a replica's requests and the
//!   recovery epochs that fence off what a replica sent before it lost its memory;
//! * [`state_transfer`]: asking peers in turn for a state image, serving and accepting one,
//!   and a recovering replica's poll of the others;
//! * [`status`]: where a replica stands (normal, view change, recovering);
//! * [`view_change`]: the clock of a view-change attempt (resend, move on).

pub mod blob;
pub mod client_core;
pub mod deadlines;
pub mod framing;
pub mod image_codec;
pub mod node;
pub mod outbox;
pub mod pending;
pub mod prevote;
pub mod recovery;
pub mod state_transfer;
pub mod status;
pub mod view_change;

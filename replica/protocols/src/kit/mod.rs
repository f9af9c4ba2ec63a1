//! The replication kit: what every protocol would otherwise write again. Each protocol's
//! folder keeps only its own logic and reaches here for the rest:
//!
//! * [`blob`]: messages larger than a datagram, as numbered chunks reassembled at the
//!   receiver (view-change logs, START-VIEW, state-transfer images);
//! * [`framing`]: the envelope around every message, the OUM header on what goes through
//!   the sequencer, and the fields every protocol encodes the same way;
//! * [`outbox`]: messages kept as values and encoded only into the driver's buffer;
//! * [`pending`]: a client's outstanding request, its resend and give-up timers;
//! * [`prevote`]: the pre-vote before a leader-timeout view change.

pub mod blob;
pub mod framing;
pub mod outbox;
pub mod pending;
pub mod prevote;

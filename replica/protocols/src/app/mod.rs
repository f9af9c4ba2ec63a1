//! Replicated state machines. An [`App`] executes operations deterministically; the
//! [`StateMachine`] around it adds the client table that makes execution at-most-once and
//! puts both into snapshots, so every protocol shares the same execution semantics.

mod client_table;
pub mod kv;
pub mod null;

use crate::codec::{CodecError, Reader};

pub use client_table::{ClientTable, Execution};

/// The applications a replica process can serve (`replica --app`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AppKind {
    /// The key-value store ([`kv::KvStore`]).
    #[default]
    Kv,
    /// No-ops with empty results ([`null::NullApp`]): the protocol's cost alone.
    Null,
}

/// An application replicated by the protocols. Operations and results are opaque bytes.
pub trait App {
    /// Executes `op`, appending its result to `result`. Must be deterministic, and must not
    /// panic on malformed operations (answer them with an error result instead).
    fn execute(&mut self, op: &[u8], result: &mut Vec<u8>);
    /// The whole state, for state transfer.
    fn snapshot(&self, out: &mut Vec<u8>);
    /// Replaces the state with a snapshot taken by [`App::snapshot`].
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), CodecError>;
    /// A digest of the state: replicas that executed the same operations agree on it.
    fn digest(&self) -> u64;
}

/// An application plus the client table: what a replica executes.
#[derive(Debug, Clone, Default)]
pub struct StateMachine<A> {
    app: A,
    clients: ClientTable,
    executed: u64,
}

impl<A: App> StateMachine<A> {
    pub fn new(app: A) -> StateMachine<A> {
        StateMachine {
            app,
            clients: ClientTable::default(),
            executed: 0,
        }
    }

    pub fn app(&self) -> &A {
        &self.app
    }

    /// Operations executed (duplicates answered from the client table are not counted).
    pub fn executed(&self) -> u64 {
        self.executed
    }

    /// Executes a client's request at most once: a request the table has already answered
    /// gets the recorded result, an older one gets nothing.
    pub fn execute(&mut self, client: u64, request: u64, op: &[u8]) -> Execution<'_> {
        match self.clients.check(client, request) {
            client_table::Check::New => {
                let mut result = self.clients.take_buffer(client);
                self.app.execute(op, &mut result);
                self.executed += 1;
                self.clients.record(client, request, result)
            }
            client_table::Check::Duplicate => self.clients.cached(client),
            client_table::Check::Stale => Execution::Stale,
        }
    }

    /// The last result recorded for `client`'s `request`, if it is the latest one.
    pub fn cached_result(&self, client: u64, request: u64) -> Option<&[u8]> {
        self.clients.result_of(client, request)
    }

    pub fn snapshot(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.executed.to_be_bytes());
        self.clients.snapshot(out);
        self.app.snapshot(out);
    }

    pub fn restore(&mut self, snapshot: &[u8]) -> Result<(), CodecError> {
        let mut r = Reader::new(snapshot);
        let executed = r.u64()?;
        let (clients, rest) = ClientTable::restore(snapshot.get(8..).unwrap_or(&[]))?;
        self.app.restore(rest)?;
        self.clients = clients;
        self.executed = executed;
        Ok(())
    }

    /// A digest of the application and the client table.
    pub fn digest(&self) -> u64 {
        let mut h = self.app.digest() ^ self.clients.digest().rotate_left(17);
        h ^= self.executed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h
    }
}

/// Writes a snapshot section's length in front of it; used by the snapshot encoders.
pub(crate) fn write_section(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    body(out);
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

//! State transfer (STATE-REQUEST / NEW-STATE, chunked) and recovery after memory loss (VR
//! Revisited sections 5.2 and 4.3).
//!
//! A backup missing op numbers asks its primary first, then every `state_transfer` the next
//! replica: any replica normal in the same view or a later one can serve, since its log is a
//! prefix of that view's primary's log. The answer is the log after what the asker holds, or,
//! when that part is truncated, a snapshot (application state and client table) plus the log
//! after it. A recovering replica sends RECOVERY with a fresh nonce, takes f+1 answers from
//! normal replicas, and copies the state of the primary of the latest view among them: never
//! a backup's, which could lack operations this replica acknowledged before it crashed.
//!
//! Recovery waits one leader timeout before its first RECOVERY. A DO-VIEW-CHANGE this
//! replica sent before it crashed can only count in a view-change attempt that started
//! before its restart; attempts complete within a leader timeout or are abandoned (with the
//! DO-VIEW-CHANGEs they gathered). So when the answers come, that attempt has either started
//! its view, and f+1 answers include one from a member of its quorum, normal in that view
//! or a later one, or it is gone. Without the wait, a recovered replica could acknowledge
//! operations in the old view that the new view, formed with its forgotten promise, lacks
//! (the hazard Michael et al. describe in VR Revisited's recovery, DISC 2017). The argument
//! needs datagrams to be delivered within the replica's downtime.

use super::{Status, VrReplica, recycle_into};
use crate::Destination;
use crate::app::App;
use crate::kit::state_transfer::{self, RecoveryPoll, Step};
use crate::time::Time;
use crate::vr::blob::Blob;
use crate::vr::images::StateImage;
use crate::vr::messages::{ChunkIn, ChunkKind, Message, StateMode};
use crate::vr::types::Log;

/// What a transfer is for, which decides whose image it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferMode {
    /// A normal replica behind its view's log.
    CatchUp,
    /// A new primary needs executed state at an op number in `lo..=hi` (the best
    /// DO-VIEW-CHANGE's window).
    Snapshot { lo: u64, hi: u64 },
    /// A recovering replica needs the state of the primary of `min_view` or a later view.
    Recovery { min_view: u64 },
}

impl TransferMode {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            TransferMode::CatchUp => "catch-up",
            TransferMode::Snapshot { .. } => "snapshot",
            TransferMode::Recovery { .. } => "recovery",
        }
    }

    fn wire(&self) -> StateMode {
        match self {
            TransferMode::CatchUp => StateMode::CatchUp,
            TransferMode::Snapshot { .. } => StateMode::Snapshot,
            TransferMode::Recovery { .. } => StateMode::Recovery,
        }
    }
}

impl state_transfer::Need for TransferMode {
    fn for_recovery(&self) -> bool {
        matches!(self, TransferMode::Recovery { .. })
    }
}

pub(crate) type Transfer = state_transfer::Transfer<TransferMode>;

pub(crate) type Recovery = RecoveryPoll<u64>;

/// A NEW-STATE served, resent as is while neither side changed.
pub(crate) type Served = state_transfer::Served<ServedKey, u64>;

/// What must not have changed for a NEW-STATE to be resent as is: the request (its nonce,
/// what the asker said it holds, the mode) and this replica's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServedKey {
    nonce: u64,
    asked: (u64, u64, u64),
    mode: StateMode,
    mine: (u64, u64, u64, u64),
}

impl<A: App> VrReplica<A> {
    pub(crate) fn drop_transfer_unless_recovery(&mut self) {
        if self
            .transfer
            .as_ref()
            .is_some_and(|t| !matches!(t.need, TransferMode::Recovery { .. }))
        {
            self.transfer = None;
        }
    }

    /// A normal backup fetches what it is missing from its primary (once at a time).
    pub(crate) fn request_catch_up(&mut self, now: Time) {
        if self.transfer.is_some() || self.status != Status::Normal || self.am_primary() {
            return;
        }
        let source = self.primary_of(self.view);
        self.start_transfer(now, source, TransferMode::CatchUp);
    }

    pub(crate) fn start_transfer(&mut self, now: Time, source: usize, mode: TransferMode) {
        let nonce = self.next_nonce();
        let resend = self.cfg.timeouts.state_transfer;
        self.transfer = Some(Transfer::new(now, resend, nonce, source, mode));
        self.send_state_request();
    }

    fn send_state_request(&mut self) {
        let Some(t) = self.transfer.as_ref() else {
            return;
        };
        let (source, nonce, mode) = (t.source, t.nonce, t.need.wire());
        let message = Message::StateRequest {
            view: match t.need {
                TransferMode::Recovery { min_view } => min_view,
                _ => self.view,
            },
            op: self.log.end(),
            commit: self.commit,
            nonce,
            mode,
        };
        self.send(Destination::Replica(source), message);
    }

    pub(super) fn transfer_timer(&mut self, now: Time) {
        let (n, me, resend) = (self.n(), self.me(), self.cfg.timeouts.state_transfer);
        match Transfer::on_timer(&mut self.transfer, now, resend, n, me) {
            Step::Wait => {}
            Step::AskAgain => self.send_state_request(),
            // The primary did not answer: it may be gone. Ask everyone again for the latest
            // view rather than trusting a peer's possibly older state.
            Step::Abandoned => self.recovery.iter_mut().for_each(|r| r.restart(now)),
        }
    }

    pub(super) fn on_state_request(
        &mut self,
        sender: usize,
        view: u64,
        op: u64,
        commit: u64,
        nonce: u64,
        mode: StateMode,
    ) {
        let serves = match mode {
            StateMode::CatchUp => self.status == Status::Normal && self.view >= view,
            // Executed state is committed state, whatever this replica's status.
            StateMode::Snapshot => true,
            StateMode::Recovery => {
                self.status == Status::Normal && self.am_primary() && self.view >= view
            }
        };
        if !serves {
            self.stats.stale += 1;
            return;
        }
        let key = ServedKey {
            nonce,
            asked: (view, op, commit),
            mode,
            mine: (self.view, self.log.end(), self.commit, self.exec),
        };
        let again = self.served.get(sender).and_then(Option::as_ref);
        if let Some(blob) = again.and_then(|s| s.again(sender, &key)) {
            self.send_blob(Destination::Replica(sender), &blob);
            return;
        }
        let end = self.log.end();
        let image = match mode {
            StateMode::CatchUp => {
                // The asker's log is right up to its op number if it is in this view, up to
                // its commit number otherwise.
                let held = if view == self.view { op } else { commit };
                let from = held.saturating_add(1).min(end + 1);
                if from >= self.log.start() {
                    StateImage {
                        view: self.view,
                        commit: self.commit,
                        base: from - 1,
                        snapshot: None,
                        entries: self.log.range(from, end).cloned().collect(),
                    }
                } else {
                    self.snapshot_image(true)
                }
            }
            StateMode::Snapshot => self.snapshot_image(false),
            StateMode::Recovery => self.snapshot_image(true),
        };
        let blob = self.new_blob(ChunkKind::State, self.view, image.encode());
        // The answer is named by the asker's nonce.
        let blob = super::OutgoingBlob { id: nonce, ..blob };
        self.send_blob(Destination::Replica(sender), &blob);
        self.vr_stats.images_served += 1;
        if let Some(slot) = self.served.get_mut(sender) {
            *slot = Some(Served::new(sender, key, blob));
        }
    }

    /// The executed state, with the log after it if `with_log`.
    fn snapshot_image(&self, with_log: bool) -> StateImage {
        let mut snapshot = Vec::new();
        self.machine.snapshot(&mut snapshot);
        StateImage {
            view: self.view,
            commit: if with_log { self.commit } else { self.exec },
            base: self.exec,
            snapshot: Some(snapshot),
            entries: if with_log {
                self.log
                    .range(self.exec + 1, self.log.end())
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    pub(super) fn on_chunk(&mut self, now: Time, sender: usize, c: ChunkIn<'_>) {
        // Drop what cannot matter before holding any of it.
        let wanted = match c.kind {
            ChunkKind::ViewChange | ChunkKind::StartView => c.view >= self.view,
            ChunkKind::State => self.transfer.as_ref().is_some_and(|t| t.nonce == c.id),
        };
        if !wanted {
            self.stats.stale += 1;
            return;
        }
        let Some(blob) = self.assembler.add(sender, c) else {
            return;
        };
        match blob.kind {
            ChunkKind::ViewChange => self.on_do_view_change_blob(now, blob),
            ChunkKind::StartView => self.on_start_view_blob(now, blob),
            ChunkKind::State => self.on_state_blob(now, blob),
        }
    }

    fn on_state_blob(&mut self, now: Time, blob: Blob) {
        let Some(transfer) = self.transfer.clone() else {
            self.stats.stale += 1;
            return;
        };
        let Some(image) = transfer.answer(&blob, &mut self.stats, StateImage::decode) else {
            return;
        };
        let installed = match transfer.need {
            TransferMode::CatchUp => self.install_catch_up(now, image),
            TransferMode::Snapshot { lo, hi } => self.install_snapshot(now, image, lo, hi),
            TransferMode::Recovery { min_view } => {
                self.install_recovery(now, blob.sender, image, min_view)
            }
        };
        if installed {
            self.stats.state_transfers += 1;
        }
    }

    fn install_catch_up(&mut self, now: Time, image: StateImage) -> bool {
        if image.view < self.view
            || self.status == Status::Recovering
            || self.primary_of(image.view) == self.me()
        {
            // Older than our view, or a view we would lead but have not started.
            self.stats.stale += 1;
            return false;
        }
        let same = self.status == Status::Normal && image.view == self.view;
        if !same {
            // A replica normal in a later view (or in the view we are changing to): join
            // it with our committed state.
            self.adopt_view(now, image.view);
        }
        if !self.install_image(now, image) {
            return false;
        }
        self.transfer = None;
        let (view, end) = (self.view, self.log.end());
        let primary = self.primary_of(view);
        self.send(
            Destination::Replica(primary),
            Message::PrepareOk { view, op: end },
        );
        true
    }

    fn install_snapshot(&mut self, now: Time, image: StateImage, lo: u64, hi: u64) -> bool {
        let awaiting = self.status == Status::ViewChange
            && self.vc.as_ref().is_some_and(|vc| vc.awaiting_snapshot);
        let fits = image.base >= lo && image.base <= hi && image.base > self.exec;
        let Some(snapshot) = image.snapshot.as_deref().filter(|_| awaiting && fits) else {
            self.stats.stale += 1;
            return false;
        };
        if self.machine.restore(snapshot).is_err() {
            self.stats.malformed += 1;
            return false;
        }
        self.reset_log_at(image.base);
        self.transfer = None;
        if let Some(vc) = self.vc.as_mut() {
            vc.awaiting_snapshot = false;
        }
        self.try_finish_view_change(now);
        true
    }

    /// Empties the log; `op` becomes the execution and commit point (a snapshot's).
    fn reset_log_at(&mut self, op: u64) {
        let mut old = std::mem::replace(&mut self.log, Log::starting_at(op + 1));
        let spare = &mut self.spare;
        old.truncate_after_with(0, |e| recycle_into(spare, e.op));
        self.exec = op;
        self.commit = op;
    }

    /// Merges an image into the log: op numbers up to our log's end are kept (they agree
    /// with the image: both are prefixes of one view's log, or committed), later ones are
    /// taken from the image. An image that starts beyond our log needs its snapshot.
    fn install_image(&mut self, now: Time, image: StateImage) -> bool {
        if image.base > self.log.end() {
            let Some(snapshot) = image.snapshot.as_deref() else {
                self.stats.stale += 1;
                return false;
            };
            if self.machine.restore(snapshot).is_err() {
                self.stats.malformed += 1;
                return false;
            }
            self.reset_log_at(image.base);
        }
        let mut op = image.base;
        for e in image.entries {
            op += 1;
            if op == self.log.end() + 1 {
                self.log.append(e);
            } else {
                recycle_into(&mut self.spare, e.op);
            }
        }
        let point = image.commit.min(self.log.end());
        if point > self.commit {
            self.commit = point;
        }
        self.execute_committed(now);
        true
    }

    /// Starts recovering; the first RECOVERY goes out after a leader timeout (see above).
    pub(crate) fn start_recovery(&mut self, now: Time, nonce: u64) {
        self.status = Status::Recovering;
        self.recovery = Some(Recovery::new(nonce, now + self.cfg.timeouts.leader_timeout));
    }

    pub(super) fn recovery_timer(&mut self, now: Time) {
        let Some(r) = self.recovery.as_mut() else {
            return;
        };
        if r.resend_due(now, self.cfg.timeouts.state_transfer) {
            let nonce = r.nonce;
            self.send(Destination::OtherReplicas, Message::Recovery { nonce });
        }
    }

    pub(super) fn on_recovery(&mut self, sender: usize, nonce: u64) {
        if self.status == Status::Normal {
            let view = self.view;
            self.send(
                Destination::Replica(sender),
                Message::RecoveryResponse { view, nonce },
            );
        } else {
            self.stats.stale += 1;
        }
    }

    /// A recovering replica listens only to answers to its recovery.
    pub(super) fn handle_while_recovering(
        &mut self,
        now: Time,
        sender: usize,
        message: Message<'_>,
    ) {
        match message {
            Message::RecoveryResponse { view, nonce } => {
                let Some(r) = self.recovery.as_mut() else {
                    return;
                };
                if r.record(sender, nonce, view, &mut self.stats) {
                    self.maybe_finish_recovery(now);
                }
            }
            Message::Chunk(c) if c.kind == ChunkKind::State => self.on_chunk(now, sender, c),
            _ => self.stats.stale += 1,
        }
    }

    /// With f+1 answers, the latest view among them is at least every view this replica
    /// took part in before it lost its memory; the state comes from that view's primary.
    fn maybe_finish_recovery(&mut self, now: Time) {
        let Some(r) = self.recovery.as_ref() else {
            return;
        };
        let Some(latest) = r.latest(self.f() + 1).filter(|_| self.transfer.is_none()) else {
            return;
        };
        let primary = self.primary_of(latest);
        // If this replica leads that view, the others must first move on without it.
        if primary != self.me() && r.responses.get(&primary) == Some(&latest) {
            self.start_transfer(now, primary, TransferMode::Recovery { min_view: latest });
        }
    }

    fn install_recovery(&mut self, now: Time, sender: usize, image: StateImage, min: u64) -> bool {
        if self.status != Status::Recovering
            || image.view < min
            || sender != self.primary_of(image.view)
        {
            self.stats.stale += 1;
            return false;
        }
        let view = image.view;
        if !self.install_image(now, image) {
            return false;
        }
        self.view = view;
        self.last_normal = view;
        self.status = Status::Normal;
        self.recovery = None;
        self.transfer = None;
        self.leader_heard = now;
        let end = self.log.end();
        self.send(
            Destination::Replica(sender),
            Message::PrepareOk { view, op: end },
        );
        true
    }
}

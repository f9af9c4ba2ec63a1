//! State transfer (a lagging replica, or one whose executed state a new view contradicts,
//! copies a peer's application state and log, in chunks that fit a datagram, from any
//! up-to-date replica: defect 5) and crash recovery of a replica that lost its memory
//! (Viewstamped Replication Revisited: it takes no part until it has caught up; here it
//! also announces a new recovery epoch, which fences off its pre-crash VIEW-CHANGEs, and
//! rejoins only a view formed without it: docs/protocols.md, NOPaxos "State transfer and
//! recovery").

use std::collections::BTreeMap;

use super::{NopaxosReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::kit::state_transfer::{self, Served, Step, other_than};
use crate::nopaxos::blob::{Blob, ChunkIn};
use crate::nopaxos::images::StateImage;
use crate::nopaxos::log::Log;
use crate::nopaxos::messages::{ChunkKind, Message};
use crate::nopaxos::types::ViewId;
use crate::time::Time;

/// Why a replica copies state, which decides whose image it may take: an image must never
/// make a replica forget something it acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// It lost its memory: only the leader of the latest view has every committed entry.
    Recovery,
    /// It is behind, or its execution contradicts the view's log: the leader's image, or a
    /// peer's that knows every NO-OP up to this replica's log end.
    CatchUp,
    /// The new leader of a view change needs the state at the stable point `stable`.
    NewLeader { stable: u64 },
}

/// What a transfer needs of an image.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Need {
    /// The image must come from a replica normal in this view or a later one.
    pub(crate) min_view: ViewId,
    pub(crate) purpose: Purpose,
}

impl state_transfer::Need for Need {
    fn for_recovery(&self) -> bool {
        self.purpose == Purpose::Recovery
    }
}

pub(crate) type Transfer = state_transfer::Transfer<Need>;

/// The image served last, named by the nonce of the request it answered.
pub(crate) type ServedImage = Served<u64, ViewId>;

#[derive(Debug, Clone)]
pub(crate) struct Recovery {
    pub(crate) nonce: u64,
    /// The epoch this recovery announced; 0 while it is still asking for the known ones.
    pub(crate) epoch: u64,
    /// Once the epoch is acknowledged: the view, formed without this replica, it rejoins,
    /// and when to ask for the next one instead.
    pub(crate) target: Option<(ViewId, Time)>,
    pub(crate) responses: BTreeMap<usize, ViewId>,
    pub(crate) resend_at: Time,
}

/// The first view above `view` (same session) that replica `me` of `n` does not lead.
fn view_after(view: ViewId, n: usize, me: usize) -> ViewId {
    let mut next = ViewId {
        leader_num: view.leader_num + 1,
        session_num: view.session_num,
    };
    if next.leader(n) == me {
        next.leader_num += 1;
    }
    next
}

impl<A: App> NopaxosReplica<A> {
    /// Copies state from the leader of `min_view` (then from others, in turn).
    pub(crate) fn start_transfer(&mut self, now: Time, min_view: ViewId) {
        if self
            .transfer
            .as_ref()
            .is_some_and(|t| t.need.min_view.covers(&min_view))
        {
            return;
        }
        let source = other_than(self.cfg.index, min_view.leader(self.cfg.n()), self.cfg.n());
        self.start_transfer_from(now, source, min_view, Purpose::CatchUp);
    }

    pub(crate) fn start_transfer_from(
        &mut self,
        now: Time,
        source: usize,
        min_view: ViewId,
        purpose: Purpose,
    ) {
        let nonce = self.next_nonce();
        let need = Need { min_view, purpose };
        let resend = self.cfg.timeouts.state_transfer;
        self.transfer = Some(Transfer::new(now, resend, nonce, source, need));
        self.send_state_request();
    }

    fn send_state_request(&mut self) {
        let Some(t) = &self.transfer else { return };
        let (source, view, nonce) = (t.source, t.need.min_view, t.nonce);
        self.send(
            Destination::Replica(source),
            Message::StateRequest { view, nonce },
        );
    }

    pub(super) fn transfer_timer(&mut self, now: Time) {
        let (n, me, resend) = (
            self.cfg.n(),
            self.cfg.index,
            self.cfg.timeouts.state_transfer,
        );
        match Transfer::on_timer(&mut self.transfer, now, resend, n, me) {
            Step::Wait => {}
            Step::AskAgain => self.send_state_request(),
            Step::Abandoned => {
                // The leader did not answer: it may be gone. Ask everyone again for the
                // latest view rather than trusting a peer's possibly older state.
                if let Some(r) = self.recovery.as_mut() {
                    r.responses.clear();
                    r.resend_at = now;
                }
                self.recovery_timer(now);
            }
        }
    }

    pub(super) fn on_state_request(&mut self, sender: usize, min_view: ViewId, nonce: u64) {
        if self.status == Status::Recovering
            || !self.last_normal_view.covers(&min_view)
            || self.transfer.is_some()
        {
            return;
        }
        let mut served = self.served_image.take();
        let view = self.last_normal_view;
        let blob = Served::answer(&mut served, sender, nonce, view, nonce, || {
            self.state_image().encode()
        });
        self.served_image = served;
        self.send_blob(Destination::Replica(sender), &blob);
    }

    /// This replica's whole state, for a peer.
    fn state_image(&self) -> StateImage {
        let mut machine = Vec::new();
        self.machine.snapshot(&mut machine);
        StateImage {
            view: self.last_normal_view,
            oum_session: self.oum_session,
            session_base: self.session_base,
            sync_point: self.sync_point,
            exec_point: self.exec_point,
            noops_applied: if self.status == Status::Normal && self.am_leader() {
                self.log.end()
            } else {
                self.noops_applied
            },
            first_slot: self.log.start(),
            entries: self
                .log
                .iter_from(self.log.start())
                .map(|(_, e)| e.clone())
                .collect(),
            machine,
        }
    }

    pub(super) fn on_chunk(&mut self, now: Time, sender: usize, chunk: ChunkIn<'_>) {
        let Some(blob) = self.assembler.add(sender, chunk) else {
            return;
        };
        match blob.kind {
            ChunkKind::ViewChange => self.on_view_change_blob(now, blob),
            ChunkKind::StartView => self.on_start_view_blob(now, blob),
            ChunkKind::State => self.on_state_blob(now, blob),
        }
    }

    fn on_state_blob(&mut self, now: Time, blob: Blob) {
        let Some(transfer) = self.transfer.clone() else {
            return;
        };
        let Some(image) = transfer.answer(&blob, &mut self.stats, StateImage::decode) else {
            return;
        };
        let Need { min_view, purpose } = transfer.need;
        if !image.view.covers(&min_view) {
            self.stats.stale += 1;
            return;
        }
        let from_leader = blob.sender == image.view.leader(self.cfg.n());
        let acceptable = match purpose {
            Purpose::Recovery => from_leader,
            Purpose::CatchUp => {
                image.view.covers(&self.view)
                    && (from_leader
                        || (image.noops_applied >= self.log.end() && image.end() >= self.log.end()))
            }
            Purpose::NewLeader { stable } => image.sync_point >= stable,
        };
        if !acceptable {
            // Taking it could make this replica forget what it acknowledged.
            self.stats.stale += 1;
            return;
        }
        let new_leader_fetching = matches!(purpose, Purpose::NewLeader { .. })
            && self.status == Status::ViewChange
            && self.vc.as_ref().is_some_and(|vc| vc.awaiting_state);
        if self.machine.restore(&image.machine).is_err() {
            self.stats.malformed += 1;
            return;
        }
        let mut log = Log::starting_at(image.first_slot);
        for e in image.entries {
            log.append(e);
        }
        self.log = log;
        self.missing_to = 0;
        self.exec_point = image.exec_point;
        self.sync_point = image.sync_point;
        self.noops_applied = image.noops_applied.max(image.sync_point);
        self.oum_session = image.oum_session;
        self.session_base = image.session_base;
        self.last_normal_view = image.view;
        self.transfer = None;
        self.stats.state_transfers += 1;
        tracing::info!(
            replica = self.cfg.index,
            source = blob.sender,
            view = %image.view,
            exec = image.exec_point,
            "state copied from a peer"
        );
        if new_leader_fetching {
            if let Some(vc) = self.vc.as_mut() {
                vc.awaiting_state = false;
            }
            self.try_finish_view_change(now);
            return;
        }
        self.recovery = None;
        self.view = image.view.join(&self.view);
        if self.view != image.view {
            // The image is from an older view than ours (possible only when recovering):
            // join the newer one properly.
            self.status = Status::Normal;
            let view = self.view;
            self.view = image.view;
            self.start_view_change(now, view);
            return;
        }
        self.enter_view(now, image.oum_session, image.session_base, image.sync_point);
    }

    pub(crate) fn start_recovery(&mut self, now: Time, nonce: u64) {
        self.status = Status::Recovering;
        self.recovery = Some(Recovery {
            nonce,
            epoch: 0,
            target: None,
            responses: BTreeMap::new(),
            resend_at: now + self.cfg.timeouts.state_transfer,
        });
        self.send(
            Destination::OtherReplicas,
            Message::Recovery { nonce, epoch: 0 },
        );
    }

    pub(super) fn recovery_timer(&mut self, now: Time) {
        let (n, me) = (self.cfg.n(), self.cfg.index);
        let leader_timeout = self.cfg.timeouts.leader_timeout;
        let Some(r) = self.recovery.as_mut() else {
            return;
        };
        if now < r.resend_at {
            return;
        }
        r.resend_at = now + self.cfg.timeouts.state_transfer;
        let (nonce, epoch) = (r.nonce, r.epoch);
        if let Some((view, deadline)) = r.target {
            // The view has not started in time: ask for the next one.
            let view = if now >= deadline {
                let next = view_after(view, n, me);
                r.target = Some((next, now + leader_timeout));
                next
            } else {
                view
            };
            self.send(
                Destination::OtherReplicas,
                Message::ViewChangeRequest { view },
            );
        }
        self.send(
            Destination::OtherReplicas,
            Message::Recovery { nonce, epoch },
        );
    }

    /// Only a normal replica answers: it learns the announced epoch before it answers, and
    /// keeps it (the recovery fence relies on f+1 normal replicas knowing it).
    pub(super) fn on_recovery(&mut self, sender: usize, nonce: u64, epoch: u64) {
        if self.status == Status::Normal {
            self.epochs.learn(sender, epoch);
            self.send(
                Destination::Replica(sender),
                Message::RecoveryResponse {
                    view: self.view,
                    nonce,
                    epochs: self.epochs.to_vec(),
                },
            );
        }
    }

    pub(super) fn handle_while_recovering(
        &mut self,
        now: Time,
        sender: usize,
        message: Message<'_>,
    ) {
        match message {
            Message::RecoveryResponse {
                view,
                nonce,
                epochs,
            } => {
                let me = self.cfg.index;
                if self.recovery.as_ref().is_none_or(|r| r.nonce != nonce) {
                    return;
                }
                self.learn_epochs(&epochs);
                let Some(r) = self.recovery.as_mut() else {
                    return;
                };
                // In the announcing round, only answers that know the announced epoch count.
                if r.epoch == 0 || epochs.get(me).is_some_and(|e| *e >= r.epoch) {
                    r.responses.insert(sender, view);
                }
                self.maybe_finish_recovery(now);
            }
            Message::Chunk {
                kind: ChunkKind::State,
                ..
            } => {
                if let Some(chunk) = message.as_chunk() {
                    self.on_chunk(now, sender, chunk);
                }
            }
            _ => self.stats.stale += 1,
        }
    }

    /// With f+1 answers: first announce the next epoch; with f+1 answers that know it, ask
    /// for a view above the latest of them; once f+1 answers show that view (or a later
    /// one) formed, copy the state of its leader.
    fn maybe_finish_recovery(&mut self, now: Time) {
        let Some(r) = self.recovery.as_ref() else {
            return;
        };
        if r.responses.len() < self.f() + 1 || self.transfer.is_some() {
            return;
        }
        if r.epoch == 0 {
            // f+1 replicas told the epochs they know: take the next one of this replica
            // (above that of any incarnation that sent a VIEW-CHANGE) and announce it.
            let me = self.cfg.index;
            let epoch = self.epochs.next_own(me);
            if let Some(r) = self.recovery.as_mut() {
                r.epoch = epoch;
                r.responses.clear();
                r.resend_at = now;
            }
            self.recovery_timer(now);
            return;
        }
        let Some(latest) = r.responses.values().copied().max_by_key(ViewId::rank) else {
            return;
        };
        let Some((target, _)) = r.target else {
            // The others acknowledged the epoch. This replica may have acknowledged requests
            // before its crash that even the leader it would copy does not hold yet (OUM
            // delivers to followers and leader independently): it rejoins only a view formed
            // after now, from f+1 reports of the others (a quorum that meets every set of
            // replicas that completed a request, less this replica).
            let target = view_after(latest, self.cfg.n(), self.cfg.index);
            if let Some(r) = self.recovery.as_mut() {
                r.target = Some((target, now + self.cfg.timeouts.leader_timeout));
            }
            self.send(
                Destination::OtherReplicas,
                Message::ViewChangeRequest { view: target },
            );
            return;
        };
        let leader = latest.leader(self.cfg.n());
        // Its state comes from the leader of a view at or above the target (never this
        // replica: the others must first move on without it).
        if latest.covers(&target)
            && leader != self.cfg.index
            && r.responses.get(&leader) == Some(&latest)
        {
            self.view = latest;
            self.start_transfer_from(now, leader, latest, Purpose::Recovery);
        }
    }
}

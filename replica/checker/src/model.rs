//! The key-value store as the search sees one key: the value is an interned id, and each
//! operation is compiled once into a transition over ids, so a search step compares
//! integers instead of byte strings.

use std::collections::HashMap;
use std::rc::Rc;

use protocols::app::kv::{KvOp, KvResult};

/// An interned value of the key; [`ABSENT`] is the key having no value.
pub(super) type StateId = u32;
pub(super) const ABSENT: StateId = 0;
/// A precondition no state satisfies (an append whose result does not end with its value).
pub(super) const IMPOSSIBLE: StateId = u32::MAX;

/// The values a key's search has seen, by id.
#[derive(Debug)]
pub(super) struct Values {
    bytes: Vec<Rc<[u8]>>,
    ids: HashMap<Rc<[u8]>, StateId>,
}

impl Values {
    pub(super) fn new() -> Values {
        Values {
            // Slot 0 stands for ABSENT and is never looked up by content.
            bytes: vec![Rc::from(&[][..])],
            ids: HashMap::new(),
        }
    }

    pub(super) fn intern(&mut self, b: &[u8]) -> StateId {
        if let Some(&id) = self.ids.get(b) {
            return id;
        }
        let id = StateId::try_from(self.bytes.len()).unwrap_or(IMPOSSIBLE - 1);
        let rc: Rc<[u8]> = Rc::from(b);
        self.bytes.push(Rc::clone(&rc));
        self.ids.insert(rc, id);
        id
    }

    pub(super) fn intern_option(&mut self, b: Option<&[u8]>) -> StateId {
        b.map_or(ABSENT, |b| self.intern(b))
    }

    /// The value's bytes; `None` for [`ABSENT`] (and for [`IMPOSSIBLE`]).
    pub(super) fn get(&self, id: StateId) -> Option<&[u8]> {
        if id == ABSENT {
            return None;
        }
        self.bytes.get(id as usize).map(|b| &b[..])
    }
}

/// An operation compiled against its result.
#[derive(Debug, Clone)]
pub(super) enum Step {
    /// A completed get: the value must be `value`.
    Get { value: StateId },
    /// A put, completed or not: always possible.
    Put { value: StateId },
    /// A completed append: the value must be `pre` (an empty `pre` also accepts an absent
    /// value), and becomes `post`, the result.
    Append {
        pre: StateId,
        pre_is_empty: bool,
        post: StateId,
    },
    /// An append that never returned: extends whatever the value is.
    AppendPending { value: Box<[u8]> },
    /// A completed compare-and-swap: the value must be `found`, and equal `expected` exactly
    /// when `swapped`.
    Cas {
        expected: StateId,
        new: StateId,
        swapped: bool,
        found: StateId,
    },
    /// A compare-and-swap that never returned.
    CasPending { expected: StateId, new: StateId },
    /// A get that never returned: no effect and no constraint, so the search skips it.
    Nothing,
}

/// What a pending operation would do to the value.
#[derive(Debug, Clone, Copy)]
pub(super) enum Effect<'a> {
    Set(StateId),
    Extend(&'a [u8]),
}

impl Step {
    /// Compiles an operation; `result` is None for one that never returned. The caller has
    /// checked that the result answers this kind of operation.
    pub(super) fn compile(values: &mut Values, op: &KvOp<'_>, result: Option<&KvResult>) -> Step {
        match (*op, result) {
            (KvOp::Get { .. }, None) => Step::Nothing,
            (KvOp::Get { .. }, Some(r)) => match r {
                KvResult::Value(v) => Step::Get {
                    value: values.intern_option(v.as_deref()),
                },
                _ => Step::Get { value: IMPOSSIBLE },
            },
            (KvOp::Put { value, .. }, _) => Step::Put {
                value: values.intern(value),
            },
            (KvOp::Append { value, .. }, None) => Step::AppendPending {
                value: value.into(),
            },
            (KvOp::Append { value, .. }, Some(r)) => match r {
                KvResult::Appended(post) if post.ends_with(value) => {
                    let pre = &post[..post.len() - value.len()];
                    Step::Append {
                        pre: values.intern(pre),
                        pre_is_empty: pre.is_empty(),
                        post: values.intern(post),
                    }
                }
                _ => Step::Append {
                    pre: IMPOSSIBLE,
                    pre_is_empty: false,
                    post: IMPOSSIBLE,
                },
            },
            (KvOp::Cas { expected, new, .. }, None) => Step::CasPending {
                expected: values.intern_option(expected),
                new: values.intern(new),
            },
            (KvOp::Cas { expected, new, .. }, Some(r)) => match r {
                KvResult::Cas { swapped, found } => Step::Cas {
                    expected: values.intern_option(expected),
                    new: values.intern(new),
                    swapped: *swapped,
                    found: values.intern_option(found.as_deref()),
                },
                _ => Step::Cas {
                    expected: IMPOSSIBLE,
                    new: IMPOSSIBLE,
                    swapped: false,
                    found: IMPOSSIBLE,
                },
            },
        }
    }

    /// The value after a completed operation taken from `state`, if its result allows it.
    /// A put counts as completed here whether or not it returned: its result says nothing.
    pub(super) fn completed(&self, state: StateId) -> Option<StateId> {
        match *self {
            Step::Get { value } => (state == value).then_some(state),
            Step::Put { value } => Some(value),
            Step::Append {
                pre,
                pre_is_empty,
                post,
            } => (state == pre || (pre_is_empty && state == ABSENT)).then_some(post),
            Step::Cas {
                expected,
                new,
                swapped,
                found,
            } => (state == found && swapped == (state == expected)).then_some(if swapped {
                new
            } else {
                state
            }),
            Step::AppendPending { .. } | Step::CasPending { .. } | Step::Nothing => None,
        }
    }

    /// What an operation that never returned does from `state`; None when it would leave
    /// the value unchanged (linearizing it then is never needed: leaving it out is as good).
    pub(super) fn pending_effect(&self, state: StateId) -> Option<Effect<'_>> {
        match self {
            Step::Put { value } => (*value != state).then_some(Effect::Set(*value)),
            Step::AppendPending { value } => {
                (!value.is_empty() || state == ABSENT).then_some(Effect::Extend(value))
            }
            Step::CasPending { expected, new } => {
                (*expected == state && *new != state).then_some(Effect::Set(*new))
            }
            _ => None,
        }
    }

    /// The value this operation needs to find, when it needs an exact one: the values that
    /// operations which never returned are worth producing.
    pub(super) fn target(&self) -> Option<StateId> {
        let t = match *self {
            Step::Get { value } => value,
            Step::Append { pre, .. } => pre,
            Step::Cas { found, .. } => found,
            Step::CasPending { expected, .. } => expected,
            Step::Put { .. } | Step::AppendPending { .. } | Step::Nothing => return None,
        };
        (t != ABSENT && t != IMPOSSIBLE).then_some(t)
    }
}

#![no_main]

use std::sync::Mutex;

use cavium_sequencer::differential::{KeyedPair, Pair, groups};
use libfuzzer_sys::fuzz_target;

// One pair of each kind for the whole run: counters advance across inputs, as on a live
// sequencer.
static PAIR: Mutex<Option<Pair>> = Mutex::new(None);
// Groups 0 and 2 keyed (authenticated stamps): the C core's sealed frame against the Rust
// core's own sealing (set_key, stamp_frame_in with the same room, seal_frame), refusals
// (no-room-for-tag in C, too-big-for-tag in Rust) included.
static KEYED: Mutex<Option<KeyedPair>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut pair = PAIR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pair = pair.get_or_insert_with(Pair::new);
    if let Err(problem) = pair.compare(data) {
        panic!("the C and Rust sequencers disagree: {problem}");
    }
    let mut keyed = KEYED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let keyed = keyed.get_or_insert_with(|| {
        KeyedPair::new(1, &groups(), &[Some([0x11; 16]), None, Some([0x22; 16])])
    });
    // Room after the frame for the tag: the last input byte picks 0..=23 bytes, so frames
    // with and without room both occur.
    let room = data.last().map_or(8, |b| usize::from(*b % 24));
    if let Err(problem) = keyed.compare(data, room) {
        panic!("the C and Rust sequencers disagree on a keyed group (room {room}): {problem}");
    }
});

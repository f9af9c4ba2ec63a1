#![no_main]

use std::sync::Mutex;

use cavium_sequencer::differential::Pair;
use libfuzzer_sys::fuzz_target;

// One pair for the whole run: counters advance across inputs, as on a live sequencer.
static PAIR: Mutex<Option<Pair>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut pair = PAIR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let pair = pair.get_or_insert_with(Pair::new);
    if let Err(problem) = pair.compare(data) {
        panic!("the C and Rust sequencers disagree: {problem}");
    }
});

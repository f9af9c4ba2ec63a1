#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut frame = data.to_vec();
    dataplane::fuzzing::sequence_frame(&mut frame);
});

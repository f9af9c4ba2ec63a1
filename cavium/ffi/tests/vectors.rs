//! The C core against the golden vectors (testdata/oum-vectors.json), and the line form of
//! those vectors that the C test program reads (cavium/tests/oum-vectors.txt) kept up to date.

use std::path::Path;

use cavium_sequencer::{CSequencerUnderTest, c_reason_name, ffi, vectors_text};
use dataplane::golden::{self, Expect, RustSequencer, Step};
use dataplane::oum::DropReason;

#[test]
fn c_core_passes_every_golden_vector() {
    let vectors = golden::load(&golden::default_path()).unwrap();
    let packets: usize = vectors
        .cases
        .iter()
        .map(|c| {
            c.steps
                .iter()
                .filter(|s| matches!(s, Step::Packet { .. }))
                .count()
        })
        .sum();
    assert!(
        vectors.cases.len() >= 30 && packets >= 50,
        "vectors went missing"
    );
    let mut sut = CSequencerUnderTest::default();
    let failures = golden::run_vectors(&vectors, &mut sut);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The Rust core, for the record: both agree with the vectors, hence with each other.
    assert!(golden::run_vectors(&vectors, &mut RustSequencer::default()).is_empty());
}

#[test]
fn vectors_cover_every_reason_the_c_core_knows() {
    let vectors = golden::load(&golden::default_path()).unwrap();
    for reason in DropReason::ALL {
        let covered = vectors.cases.iter().flat_map(|c| &c.steps).any(|s| {
            matches!(s, Step::Packet { expect: Expect::Drop { reason: r }, .. } if r == reason.name())
        });
        assert!(covered, "no vector drops with {reason}");
    }
}

#[test]
fn c_reason_numbers_and_names_match_the_rust_core() {
    // The C core has one reason more, numbered last: no-room-for-tag (a keyed group's
    // frame without room for the tag), which the Rust core cannot meet while it seals none.
    assert_eq!(DropReason::COUNT + 1, ffi::OUM_REASON_COUNT as usize);
    for (i, reason) in DropReason::ALL.into_iter().enumerate() {
        assert_eq!(c_reason_name(i as u32), reason.name(), "reason {i}");
    }
    assert_eq!(
        c_reason_name(u32::from(ffi::OUM_REASON_NO_ROOM_FOR_TAG)),
        "no-room-for-tag"
    );
    assert_eq!(c_reason_name(ffi::OUM_REASON_COUNT), "none");
    assert_eq!(c_reason_name(u32::from(ffi::OUM_REASON_NONE)), "none");
}

/// The committed text form must be exactly what the generator makes from the JSON; set
/// CAVIUM_BLESS=1 to rewrite it.
#[test]
fn c_vectors_file_is_up_to_date() {
    let vectors = golden::load(&golden::default_path()).unwrap();
    let want = vectors_text(&vectors);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oum-vectors.txt");
    if std::env::var_os("CAVIUM_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date with testdata/oum-vectors.json: run \
         CAVIUM_BLESS=1 cargo test -p cavium-sequencer --test vectors",
        path.display()
    );
}

//! Authenticated stamps add no allocation to the hot path: the sequencer core stamping and
//! sealing datagrams and frames, and a replica's driver checking and opening them
//! (`Addresses::admit`, with the DPDK sequencer's MAC checked too), with the heap allocator
//! counting every call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dataplane::config::{ClusterConfig, KeyText, SequencerKind};
use dataplane::oum::{AUTH_TAG_LEN, GroupId, SessionNumber, Verdict};
use dataplane::wire::build::{UdpFrameSpec, oum_payload};
use dataplane::wire::{MacAddr, OUM_DEFAULT_PORT, OumRepr};
use replica::driver::Addresses;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` (one test in this file, so the count is its alone).
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCATIONS.load(Ordering::SeqCst)
}

#[test]
fn sealing_and_opening_stamps_allocate_nothing() {
    let mut config = ClusterConfig::local(3, 51000, Ipv4Addr::new(10, 0, 0, 100));
    config.oum.port = OUM_DEFAULT_PORT;
    config.sequencer.kind = SequencerKind::Dpdk;
    let sequencer_mac = MacAddr([2, 0, 0, 0, 0, 0x64]);
    config.sequencer.macs = vec!["02:00:00:00:00:65".into(), sequencer_mac.to_string()];
    config.groups[0].auth_key = Some(KeyText::new("00112233445566778899aabbccddeeff"));
    let mut sequencer = config.sequencer(SessionNumber(1)).unwrap();
    let addresses = Addresses::new(&config, Some(1)).unwrap();
    let from = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
    let frame = UdpFrameSpec::default()
        .build(&oum_payload(OumRepr::Unsequenced, &[0x42; 100]))
        .unwrap();
    let len = frame.len();
    let (mut frame_buf, mut datagram_buf) = (vec![0u8; 2048], vec![0u8; 2048]);
    let datagram_len = len - 42;
    let (mut stamped, mut admitted) = (0u64, 0u64);
    let n = allocations(|| {
        for _ in 0..4096 {
            // Kernel UDP: stamp in the buffer, seal into the room after it, then what a
            // replica's driver does with the copy.
            datagram_buf[..datagram_len].copy_from_slice(&frame[42..]);
            let verdict =
                sequencer.stamp_datagram_in(GroupId(0), &mut datagram_buf[..datagram_len], 8);
            if let Some(Verdict::Multicast { group, .. }) = verdict {
                let sealed = datagram_len + AUTH_TAG_LEN;
                if sequencer.seal_datagram(group, &mut datagram_buf[..sealed]) {
                    stamped += 1;
                    if addresses.admit(from, Some(sequencer_mac), &mut datagram_buf[..sealed])
                        == Ok(datagram_len)
                    {
                        admitted += 1;
                    }
                }
            }
            // Raw frames (DPDK): the fast path, then the seal into the tailroom.
            frame_buf[..len].copy_from_slice(&frame);
            if let Some(group) = sequencer.stamp_plain_in(&mut frame_buf[..len], 2048 - len) {
                if sequencer.seal_frame(group, &mut frame_buf) == Some(len + AUTH_TAG_LEN) {
                    stamped += 1;
                }
            }
        }
    });
    assert_eq!((stamped, admitted), (8192, 4096));
    assert_eq!(n, 0, "{n} allocations for 8192 seals and 4096 opens");
}

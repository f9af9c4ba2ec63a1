//! Who may stamp: the source checks a replica's driver makes before a core sees a stamp.

use std::net::Ipv4Addr;

use dataplane::config::SequencerKind;
use dataplane::wire::{OumPacket, Stamp};

use super::*;

fn stamped() -> Vec<u8> {
    let mut bytes = vec![0u8; 40];
    bytes[..4].copy_from_slice(&OUM_PREAMBLE);
    OumPacket::new_checked(&mut bytes[..])
        .unwrap()
        .header_mut()
        .stamp(Stamp::new(3, 7));
    bytes
}

fn config(kind: SequencerKind) -> ClusterConfig {
    let mut c = ClusterConfig::local(3, 0, Ipv4Addr::new(127, 0, 0, 90));
    c.sequencer.kind = kind;
    c
}

#[test]
fn a_replica_takes_stamps_only_from_a_group_socket_of_a_udp_sequencer() {
    let c = config(SequencerKind::Udp);
    let group = c.group_socket(&c.groups[0]);
    let stranger: SocketAddrV4 = "127.0.0.1:4000".parse().unwrap();
    let a = Addresses::new(&c, Some(1)).unwrap();
    assert!(a.stamp_source_ok(group, None, &stamped()));
    assert!(!a.stamp_source_ok(stranger, None, &stamped()));
    // Same address, another port: not the sequencer's socket.
    let near = SocketAddrV4::new(*group.ip(), group.port() + 1);
    assert!(!a.stamp_source_ok(near, None, &stamped()));
    // Unstamped, protocol messages and truncated headers are the core's to judge.
    let mut unstamped = stamped();
    unstamped[4..6].copy_from_slice(&0u16.to_be_bytes());
    assert!(a.stamp_source_ok(stranger, None, &unstamped));
    assert!(a.stamp_source_ok(stranger, None, b"envelope"));
    assert!(a.stamp_source_ok(stranger, None, &stamped()[..5]));
    assert!(!a.stamp_source_ok(stranger, None, &stamped()[..6]));
    // A client-side driver never filters.
    assert!(
        Addresses::new(&c, None)
            .unwrap()
            .stamp_source_ok(stranger, None, &stamped())
    );
}

#[test]
fn dpdk_and_switch_sequencers_keep_the_client_source_so_nothing_is_filtered() {
    let stranger: SocketAddrV4 = "127.0.0.1:4000".parse().unwrap();
    for kind in [SequencerKind::Dpdk, SequencerKind::Switch] {
        let a = Addresses::new(&config(kind), Some(0)).unwrap();
        assert!(a.stamp_source_ok(stranger, None, &stamped()), "{kind:?}");
    }
}

const SEQUENCER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x64]);
const STANDBY_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x65]);
const CLIENT_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 1]);

fn dpdk_with_macs() -> ClusterConfig {
    let mut c = config(SequencerKind::Dpdk);
    c.sequencer.macs = vec![SEQUENCER_MAC.to_string(), STANDBY_MAC.to_string()];
    c
}

#[test]
fn on_dpdk_a_replica_takes_stamps_only_from_a_configured_sequencer_mac() {
    // The source address is the client's (the DPDK sequencer keeps it): any will do.
    let client: SocketAddrV4 = "10.0.1.1:40000".parse().unwrap();
    let a = Addresses::new(&dpdk_with_macs(), Some(2)).unwrap();
    assert!(a.stamp_source_ok(client, Some(SEQUENCER_MAC), &stamped()));
    assert!(a.stamp_source_ok(client, Some(STANDBY_MAC), &stamped()));
    assert!(!a.stamp_source_ok(client, Some(CLIENT_MAC), &stamped()));
    let mut forged = stamped();
    assert_eq!(
        a.admit(client, Some(CLIENT_MAC), &mut forged),
        Err(Refusal::StrangerStamp)
    );
    assert_eq!(a.admit(client, Some(SEQUENCER_MAC), &mut forged), Ok(40));
    // Unstamped requests, protocol messages from peers and truncated headers come from
    // any MAC: the core judges them.
    let mut unstamped = stamped();
    unstamped[4..6].copy_from_slice(&0u16.to_be_bytes());
    assert!(a.stamp_source_ok(client, Some(CLIENT_MAC), &unstamped));
    assert!(a.stamp_source_ok(client, Some(CLIENT_MAC), b"envelope"));
    assert!(a.stamp_source_ok(client, Some(CLIENT_MAC), &stamped()[..5]));
    // A sealed stamp (header size 18) is a stamp too.
    let mut sealed = stamped();
    sealed[4..6].copy_from_slice(&OUM_AUTHENTICATED_HEADER_SIZE.to_be_bytes());
    assert!(!a.stamp_source_ok(client, Some(CLIENT_MAC), &sealed));
    // A kernel socket shows no MAC, so nothing is checked there; nor for a client driver.
    assert!(a.stamp_source_ok(client, None, &stamped()));
    let c = Addresses::new(&dpdk_with_macs(), None).unwrap();
    assert!(c.stamp_source_ok(client, Some(CLIENT_MAC), &stamped()));
}

#[test]
fn without_macs_a_dpdk_replica_takes_stamps_from_any_mac() {
    let client: SocketAddrV4 = "10.0.1.1:40000".parse().unwrap();
    let a = Addresses::new(&config(SequencerKind::Dpdk), Some(0)).unwrap();
    assert!(a.stamp_source_ok(client, Some(CLIENT_MAC), &stamped()));
}

#[test]
fn with_a_key_the_mac_is_checked_before_the_tag() {
    let mut c = dpdk_with_macs();
    c.groups[0].auth_key = Some(dataplane::config::KeyText::new(
        "00112233445566778899aabbccddeeff",
    ));
    let a = Addresses::new(&c, Some(0)).unwrap();
    let client: SocketAddrV4 = "10.0.1.1:40000".parse().unwrap();
    // A stranger's stamp is refused for its MAC whatever its tag; the sequencer's
    // untagged one for its missing tag.
    assert_eq!(
        a.admit(client, Some(CLIENT_MAC), &mut stamped()),
        Err(Refusal::StrangerStamp)
    );
    assert_eq!(
        a.admit(client, Some(SEQUENCER_MAC), &mut stamped()),
        Err(Refusal::MissingTag)
    );
}

#[test]
fn only_stamps_under_a_configured_check_go_through_admit() {
    let mut unstamped = stamped();
    unstamped[4..6].copy_from_slice(&0u16.to_be_bytes());
    // No check configured (DPDK kind, no MACs, no key): everything straight to the core.
    let none = Addresses::new(&config(SequencerKind::Dpdk), Some(0)).unwrap();
    assert!(!none.must_admit(&stamped()));
    // A kernel-UDP sequencer's source check: stamps only.
    let udp = Addresses::new(&config(SequencerKind::Udp), Some(0)).unwrap();
    assert!(udp.must_admit(&stamped()));
    assert!(!udp.must_admit(&unstamped));
    assert!(!udp.must_admit(b"envelope"));
    // A key alone turns the check on.
    let mut keyed = config(SequencerKind::Dpdk);
    keyed.groups[0].auth_key = Some(dataplane::config::KeyText::new(
        "00112233445566778899aabbccddeeff",
    ));
    let keyed = Addresses::new(&keyed, Some(0)).unwrap();
    assert!(keyed.must_admit(&stamped()));
    // A client-side driver never filters.
    assert!(
        !Addresses::new(&config(SequencerKind::Udp), None)
            .unwrap()
            .must_admit(&stamped())
    );
}

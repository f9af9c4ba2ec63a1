use std::net::Ipv4Addr;
use std::path::Path;

use super::*;

const EXAMPLE: &str = r#"
f = 1

[oum]
port = 22222

[sequencer]
state_file = "state/sequencer-session"

[[group]]
name = "kv"
address = "127.0.0.10"

[[group]]
name = "other"
address = "127.0.0.11"
members = [2, 0]

[[replica]]
address = "127.0.0.1:51000"

[[replica]]
address = "127.0.0.1:51001"

[[replica]]
address = "127.0.0.1:51002"
"#;

fn fields(text: &str) -> Vec<String> {
    match ClusterConfig::parse(text) {
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.into_iter().map(|p| p.field).collect()
        }
        other => panic!("expected validation problems, got {other:?}"),
    }
}

#[test]
fn example_parses_with_defaults_filled_in() {
    let c = ClusterConfig::parse(EXAMPLE).unwrap();
    assert_eq!(c.f, 1);
    assert_eq!(c.n(), 3);
    assert_eq!(c.oum.port, 22222);
    assert_eq!(c.oum.reorder_window_us, 1000);
    assert_eq!(c.timeouts, Timeouts::default());
    assert_eq!(c.members(&c.groups[0]), vec![0, 1, 2]);
    assert_eq!(c.members(&c.groups[1]), vec![2, 0]);
    assert_eq!(c.group_socket(&c.groups[0]).to_string(), "127.0.0.10:22222");
    let specs = c.group_specs();
    assert_eq!(specs[1].address, Ipv4Addr::new(127, 0, 0, 11));
    assert_eq!(c.replica_address(2).unwrap().port(), 51002);
    assert_eq!(c.replica_address(3), None);
}

#[test]
fn the_deploy_example_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/cluster.toml");
    let c = ClusterConfig::load(&path).unwrap();
    assert!(c.n() >= 3);
}

#[test]
fn the_dpdk_deploy_example_is_valid_and_names_every_mac() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/cluster-dpdk.toml");
    let c = ClusterConfig::load(&path).unwrap();
    assert_eq!(c.n(), 3);
    for i in 0..c.n() {
        assert!(c.replica_mac(i).is_some(), "replica {i} has no mac");
    }
    // Its sequencer forwards with the client's source: replicas must not judge by source.
    assert_eq!(c.sequencer.kind, SequencerKind::Dpdk);
}

#[test]
fn sequencer_kind_defaults_to_udp_and_rejects_unknown_kinds() {
    assert_eq!(
        ClusterConfig::parse(EXAMPLE).unwrap().sequencer.kind,
        SequencerKind::Udp
    );
    for (word, kind) in [
        ("udp", SequencerKind::Udp),
        ("dpdk", SequencerKind::Dpdk),
        ("switch", SequencerKind::Switch),
    ] {
        let text = EXAMPLE.replace(
            "[sequencer]\n",
            &format!("[sequencer]\nkind = \"{word}\"\n"),
        );
        assert_eq!(ClusterConfig::parse(&text).unwrap().sequencer.kind, kind);
    }
    let text = EXAMPLE.replace("[sequencer]\n", "[sequencer]\nkind = \"tofino\"\n");
    let err = ClusterConfig::parse(&text).unwrap_err().to_string();
    assert!(err.contains("tofino") && err.contains("udp"), "{err}");
}

#[test]
fn written_config_reads_back_the_same() {
    let c = ClusterConfig::parse(EXAMPLE).unwrap();
    assert_eq!(ClusterConfig::parse(&c.to_toml()).unwrap(), c);
    let local = ClusterConfig::local(5, 41000, Ipv4Addr::new(127, 0, 0, 20));
    assert_eq!(ClusterConfig::parse(&local.to_toml()).unwrap(), local);
    assert_eq!(local.f, 2);
}

#[test]
fn relative_state_file_is_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, EXAMPLE).unwrap();
    let c = ClusterConfig::load(&path).unwrap();
    assert_eq!(
        c.sequencer.state_file.unwrap(),
        dir.path().join("state/sequencer-session")
    );
}

#[test]
fn wrong_replica_count_names_f_and_the_fix() {
    let text = EXAMPLE.replace("f = 1", "f = 2");
    let err = ClusterConfig::parse(&text).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`f`"), "{message}");
    assert!(
        message.contains("needs 2f+1 = 5 replicas, but 3"),
        "{message}"
    );
    assert!(message.contains("f = 1"), "{message}");
}

#[test]
fn every_mistake_is_reported_with_its_field() {
    let text = r#"
f = 1
[oum]
port = 0
pending_capacity = 0
[timeouts]
gap_request_ms = 0
leader_timeout_ms = 500
client_give_up_ms = 50
[[group]]
name = "a"
address = "127.0.0.1"
members = [0, 0, 7]
[[group]]
name = "a"
address = "127.0.0.1"
members = []
[[replica]]
address = "127.0.0.1:0"
[[replica]]
address = "0.0.0.0:51001"
[[replica]]
address = "0.0.0.0:51001"
"#;
    let got = fields(text);
    for want in [
        "oum.port",
        "oum.pending_capacity",
        "replica[0].address",
        "replica[1].address",
        "replica[2].address",
        "group[0].members",
        "group[1].name",
        "group[1].address",
        "group[1].members",
        "timeouts.gap_request_ms",
        "timeouts.leader_timeout_ms",
        "timeouts.client_give_up_ms",
    ] {
        assert!(
            got.iter().any(|f| f == want),
            "no problem for {want}: {got:?}"
        );
    }
}

#[test]
fn adaptive_waits_need_their_floor_below_their_ceiling() {
    let text = EXAMPLE.replace(
        "port = 22222",
        "port = 22222\nreorder_window_us = 100\nreorder_window_min_us = 200",
    );
    let err = ClusterConfig::parse(&text).unwrap_err().to_string();
    assert!(err.contains("oum.reorder_window_min_us"), "{err}");
    assert!(
        err.contains("200 us is longer than reorder_window_us (100 us)"),
        "{err}"
    );

    let text = format!("{EXAMPLE}\n[timeouts]\nclient_resend_ms = 5\nclient_resend_min_ms = 10\n");
    let err = ClusterConfig::parse(&text).unwrap_err().to_string();
    assert!(err.contains("timeouts.client_resend_min_ms"), "{err}");
    assert!(
        err.contains("10 ms is longer than client_resend_ms (5 ms)"),
        "{err}"
    );

    let text = format!("{EXAMPLE}\n[timeouts]\ngap_request_ms = 2\ngap_request_min_ms = 3\n");
    let err = ClusterConfig::parse(&text).unwrap_err().to_string();
    assert!(
        err.contains("3 ms is longer than gap_request_ms (2 ms)"),
        "{err}"
    );

    let text = format!("{EXAMPLE}\n[timeouts]\nclient_resend_min_ms = 0\n");
    let err = ClusterConfig::parse(&text).unwrap_err().to_string();
    assert!(err.contains("timeouts.client_resend_min_ms"), "{err}");
}

#[test]
fn group_address_may_not_be_a_replica_address() {
    let text = EXAMPLE
        .replace("port = 22222", "port = 51000")
        .replace("127.0.0.10", "127.0.0.1");
    assert_eq!(fields(&text), vec!["group[0].address"]);
}

#[test]
fn missing_sections_are_reported() {
    assert_eq!(fields("f = 0"), vec!["replica", "group"]);
}

#[test]
fn syntax_errors_name_the_place_and_unknown_fields_the_choices() {
    let err = ClusterConfig::parse("f = 1\n[[replica]]\naddress = \"127.0.0.1\"\n").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("line 3"), "{message}");
    assert!(
        message.contains("\"127.0.0.1:51000\""),
        "an example: {message}"
    );

    let err = ClusterConfig::parse(&EXAMPLE.replace("port = 22222", "prot = 22222")).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("prot"), "{message}");
    assert!(message.contains("port"), "{message}");
}

#[test]
fn unreadable_file_names_the_path() {
    let err = ClusterConfig::load(Path::new("/nonexistent/cluster.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cluster.toml"));
}

#[test]
fn receiver_settings_come_from_the_oum_section() {
    let c = ClusterConfig::parse(
        &EXAMPLE.replace("port = 22222", "port = 22222\nreorder_window_us = 0"),
    )
    .unwrap();
    assert_eq!(c.oum.receiver().reorder_window, Duration::ZERO);
}

#[test]
fn replica_macs_are_optional_and_checked() {
    let base = "f = 0\n[[group]]\nname = \"g\"\naddress = \"127.0.0.10\"\n[[replica]]\naddress = \"127.0.0.1:51000\"\n";
    let config = ClusterConfig::parse(base).unwrap();
    assert_eq!(config.replica_mac(0), None);
    let config = ClusterConfig::parse(&format!("{base}mac = \"02:00:00:00:00:0b\"\n")).unwrap();
    assert_eq!(
        config.replica_mac(0),
        Some(crate::wire::MacAddr([2, 0, 0, 0, 0, 0x0b]))
    );
    assert_eq!(ClusterConfig::parse(&config.to_toml()).unwrap(), config);
    let err = ClusterConfig::parse(&format!("{base}mac = \"02:00:00:00:00\"\n")).unwrap_err();
    assert!(err.to_string().contains("replica[0].mac"), "{err}");
    assert_eq!(
        super::parse_mac("02-00-00-00-00-0B"),
        Some(crate::wire::MacAddr([2, 0, 0, 0, 0, 0x0b]))
    );
    assert_eq!(super::parse_mac("02:00:00:00:00:0b:00"), None);
    assert_eq!(super::parse_mac("2:00:00:00:00:0b"), None);
}

#[test]
fn multicast_fan_out_is_optional_and_checked() {
    let c = ClusterConfig::parse(&EXAMPLE.replace(
        "address = \"127.0.0.10\"",
        "address = \"127.0.0.10\"\nmulticast = \"239.255.0.10\"",
    ))
    .unwrap();
    assert_eq!(
        c.multicast_socket(&c.groups[0]).unwrap().to_string(),
        "239.255.0.10:22222"
    );
    assert_eq!(c.multicast_socket(&c.groups[1]), None);
    assert_eq!(c.groups_of(1).count(), 1, "replica 1 is only in group kv");
    assert_eq!(c.groups_of(0).count(), 2);

    let unicast = EXAMPLE.replace(
        "address = \"127.0.0.10\"",
        "address = \"127.0.0.10\"\nmulticast = \"10.0.0.1\"",
    );
    assert_eq!(fields(&unicast), vec!["group[0].multicast"]);
    let shared = EXAMPLE
        .replace(
            "address = \"127.0.0.10\"",
            "address = \"127.0.0.10\"\nmulticast = \"239.255.0.10\"",
        )
        .replace(
            "address = \"127.0.0.11\"",
            "address = \"127.0.0.11\"\nmulticast = \"239.255.0.10\"",
        );
    assert_eq!(fields(&shared), vec!["group[1].multicast"]);
}

/// Issue 13: `members = [0, 1]` in a 3-replica cluster was accepted silently, and replica 2
/// then never saw a request.
#[test]
fn the_replicated_group_must_list_every_replica() {
    let text = EXAMPLE.replace(
        "address = \"127.0.0.10\"",
        "address = \"127.0.0.10\"\nmembers = [0, 1]",
    );
    let err = ClusterConfig::parse(&text).unwrap_err().to_string();
    assert!(err.contains("`group[0].members`"), "{err}");
    assert!(err.contains("leaves out replica(s) 2"), "{err}");
    assert!(err.contains("members = [0, 1, 2]"), "{err}");

    // Every replica in any order is the same group; later groups may be subsets.
    let text = EXAMPLE.replace(
        "address = \"127.0.0.10\"",
        "address = \"127.0.0.10\"\nmembers = [2, 0, 1]",
    );
    let c = ClusterConfig::parse(&text).unwrap();
    assert_eq!(c.members(&c.groups[1]), vec![2, 0]);
}

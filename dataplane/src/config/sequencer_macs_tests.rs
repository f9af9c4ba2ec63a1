//! `[sequencer] macs`: parsed, each mistake named with its fix, refused where it checks
//! nothing.

use super::*;

fn with_sequencer(lines: &str) -> String {
    format!(
        "f = 1\n[sequencer]\n{lines}\n[[group]]\nname = \"kv\"\naddress = \"127.0.0.10\"\n\
         [[replica]]\naddress = \"127.0.0.1:51000\"\n[[replica]]\naddress = \"127.0.0.1:51001\"\n\
         [[replica]]\naddress = \"127.0.0.1:51002\"\n"
    )
}

fn problems(text: &str) -> Vec<Problem> {
    match ClusterConfig::parse(text) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_dpdk_sequencer_may_list_its_macs_and_a_standbys() {
    let text =
        with_sequencer("kind = \"dpdk\"\nmacs = [\"02:00:00:00:00:64\", \"02-00-00-00-00-65\"]");
    let c = ClusterConfig::parse(&text).unwrap();
    assert_eq!(
        c.sequencer.stamp_macs(),
        vec![
            MacAddr([2, 0, 0, 0, 0, 0x64]),
            MacAddr([2, 0, 0, 0, 0, 0x65])
        ]
    );
    // Written back and read again, the list survives; absent, it is empty.
    assert_eq!(ClusterConfig::parse(&c.to_toml()).unwrap(), c);
    let plain = ClusterConfig::parse(&with_sequencer("kind = \"dpdk\"")).unwrap();
    assert!(plain.sequencer.stamp_macs().is_empty());
    assert!(!plain.to_toml().contains("macs"));
}

#[test]
fn a_bad_mac_is_named_with_its_index_value_and_fix() {
    let p = problems(&with_sequencer(
        "kind = \"dpdk\"\nmacs = [\"02:00:00:00:00:64\", \"02:00:00:00:64\", \"zz:00:00:00:00:00\"]",
    ));
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["sequencer.macs[1]", "sequencer.macs[2]"]);
    assert!(
        p[0].problem
            .contains("\"02:00:00:00:64\" is not a MAC address")
    );
    assert!(p[0].example.contains("sequencer --dpdk"));
}

#[test]
fn macs_are_refused_for_sequencers_their_mac_does_not_identify() {
    for (kind, says) in [("udp", "group sockets"), ("switch", "client's source MAC")] {
        let p = problems(&with_sequencer(&format!(
            "kind = \"{kind}\"\nmacs = [\"02:00:00:00:00:64\"]"
        )));
        assert_eq!(p.len(), 1, "{kind}: {p:?}");
        assert_eq!(p[0].field, "sequencer.macs");
        assert!(p[0].problem.contains(says), "{kind}: {}", p[0].problem);
        assert!(p[0].example.contains("kind = \"dpdk\""));
    }
    // The default kind is udp.
    assert_eq!(
        problems(&with_sequencer("macs = [\"02:00:00:00:00:64\"]")).len(),
        1
    );
    // An empty list is no list.
    assert!(ClusterConfig::parse(&with_sequencer("kind = \"switch\"\nmacs = []")).is_ok());
}

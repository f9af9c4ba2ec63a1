use std::time::Duration;

use super::options;
use crate::time::Time;
use crate::{Outcome, SimOptions, run_seed};
use protocols::app::kv::{KvOp, KvResult};
use protocols::unreplicated::Unreplicated;

#[test]
fn a_lossless_run_completes_every_operation() {
    let opts = options(3, "none", 1500);
    for seed in 0..3 {
        let report = run_seed::<Unreplicated>(&opts, seed, None);
        assert_eq!(report.outcome, Outcome::Ok, "{}", report.failure_text());
        assert_eq!(report.replicas, 1, "unreplicated runs one server");
        assert!((3..=5).contains(&report.clients));
        assert!(report.invoked > 300, "only {} operations", report.invoked);
        // Only an operation invoked in the last instants may still be waiting.
        let end = report.virtual_time;
        for call in &report.history {
            match call.ret {
                Some(ret) => {
                    assert!(ret >= call.invoke);
                    assert!(ret - call.invoke < Duration::from_micros(100), "{call:?}");
                    let result = KvResult::decode(call.result.as_ref().unwrap()).unwrap();
                    assert_ne!(result, KvResult::BadOp);
                }
                None => assert!(end - call.invoke < Duration::from_micros(100), "{call:?}"),
            }
            KvOp::decode(&call.op).unwrap();
        }
        let s = report.net;
        assert_eq!(s.lost + s.blocked_by_partition + s.to_down_host, 0);
        assert!(
            s.unaccounted().is_some(),
            "the network accounts for every copy"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let opts = options(3, "all", 2000);
    for seed in [1, 17] {
        let a = run_seed::<Unreplicated>(&opts, seed, None);
        let b = run_seed::<Unreplicated>(&opts, seed, None);
        assert_eq!(a.history, b.history);
        assert_eq!(a.net, b.net);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_eq!(a.outcome, b.outcome);
    }
    let a = run_seed::<Unreplicated>(&opts, 1, None);
    let c = run_seed::<Unreplicated>(&opts, 2, None);
    assert_ne!(a.fingerprint, c.fingerprint);
}

#[test]
fn a_traced_run_is_the_same_run() {
    let opts = SimOptions {
        verbose: 2,
        ..options(3, "all", 2000)
    };
    let mut out = Vec::new();
    let traced = run_seed::<Unreplicated>(&opts, 5, Some(&mut out));
    let quiet = run_seed::<Unreplicated>(&opts, 5, None);
    assert_eq!(traced.fingerprint, quiet.fingerprint);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("start protocol=unreplicated seed=5"),
        "{text:.300}"
    );
    assert!(text.contains("client 1 invoke #1"));
    assert!(text.contains("replica 0 <- 127.0.0.2:20000 msg type=0x01"));
    assert!(text.contains("fault HealAll"));
    assert!(text.contains("end replica 0: unreplicated server"));
}

#[test]
fn a_crashed_server_is_waited_out() {
    let opts = options(1, "crash", 3000);
    let mut crashed_runs = 0;
    for seed in 0..20 {
        let report = run_seed::<Unreplicated>(&opts, seed, None);
        assert_eq!(report.outcome, Outcome::Ok, "{}", report.failure_text());
        if report.net.to_down_host > 0 {
            crashed_runs += 1;
            assert!(report.history.iter().any(|c| c.ret.is_none()) || report.completed > 0);
        }
    }
    assert!(crashed_runs > 10, "crashes happened in {crashed_runs} runs");
}

#[test]
fn the_replay_command_names_everything_that_shapes_the_run() {
    let mut opts = options(3, "all", 2500);
    let report = run_seed::<Unreplicated>(&opts, 1234, None);
    assert_eq!(
        report.replay,
        "cargo run --release -p replica --bin replica-sim -- --protocol unreplicated \
         --replicas 1 --seed 1234 --faults all --duration-ms 2500 --verbose"
    );
    opts.clients = Some(2);
    opts.faults = "loss,crash".parse().unwrap();
    let report = run_seed::<Unreplicated>(&opts, 7, None);
    assert!(
        report.replay.ends_with(
            "--replicas 1 --clients 2 --seed 7 --faults loss,crash --duration-ms 2500 --verbose"
        ),
        "{}",
        report.replay
    );
    assert_eq!(report.clients, 2);
}

#[test]
fn bad_options_are_reported_not_panicked_on() {
    let opts = SimOptions {
        replicas: 4,
        ..SimOptions::default()
    };
    let report = run_seed::<Unreplicated>(&opts, 0, None);
    assert!(report.outcome.is_failure());
    assert!(
        report.failure_text().contains("odd number"),
        "{}",
        report.failure_text()
    );
    assert_eq!(report.virtual_time, Time::ZERO);
}

#[test]
fn destinations_map_to_addresses() {
    use crate::routes::Routes;
    use protocols::Destination;
    let config = SimOptions::default().cluster_config(3);
    let routes = Routes::new(&config, 3, 2);
    let mut out = Vec::new();
    routes.resolve(Destination::OtherReplicas, Some(1), &mut out);
    assert_eq!(out, vec![routes.replicas()[0], routes.replicas()[2]]);
    out.clear();
    routes.resolve(Destination::OtherReplicas, None, &mut out);
    assert_eq!(out, routes.replicas());
    out.clear();
    routes.resolve(Destination::Replica(2), Some(0), &mut out);
    routes.resolve(Destination::Replica(3), Some(0), &mut out);
    routes.resolve(Destination::Group, Some(0), &mut out);
    routes.resolve(Destination::Client(routes.clients[1]), Some(0), &mut out);
    assert_eq!(
        out,
        vec![
            config.replicas[2].address,
            config.group_socket(&config.groups[0]),
            routes.clients[1]
        ]
    );
}

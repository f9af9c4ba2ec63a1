use std::time::Duration;

use crate::{FaultKind, FaultSet, SeedRange, SimOptions};

#[test]
fn fault_lists_parse_and_print_canonically() {
    assert_eq!("none".parse::<FaultSet>().unwrap(), FaultSet::NONE);
    assert_eq!("all".parse::<FaultSet>().unwrap(), FaultSet::all());
    let set: FaultSet = "crash, loss,memory-loss".parse().unwrap();
    assert!(set.contains(FaultKind::Loss));
    assert!(set.contains(FaultKind::Crash));
    assert!(set.contains(FaultKind::MemoryLoss));
    assert!(!set.contains(FaultKind::Failover));
    assert_eq!(set.to_string(), "loss,crash,memory-loss");
    assert_eq!(FaultSet::NONE.to_string(), "none");
    assert_eq!(
        FaultSet::all().to_string(),
        "loss,dup,reorder,delay,partition,crash,memory-loss,failover,long-hold,pause,stray"
    );
    for kind in FaultKind::ALL {
        let one: FaultSet = kind.name().parse().unwrap();
        assert_eq!(one.kinds().collect::<Vec<_>>(), vec![kind]);
    }
    let err = "loss,earthquake".parse::<FaultSet>().unwrap_err();
    assert!(err.contains("earthquake"), "{err}");
}

#[test]
fn seed_ranges_parse() {
    assert_eq!(
        "0..10000".parse::<SeedRange>().unwrap(),
        SeedRange {
            start: 0,
            end: 10000
        }
    );
    assert_eq!("42".parse::<SeedRange>().unwrap(), SeedRange::single(42));
    assert_eq!(SeedRange::single(42).len(), 1);
    assert!("5..5".parse::<SeedRange>().is_err());
    assert!("a..5".parse::<SeedRange>().is_err());
}

#[test]
fn the_quiet_period_survives_short_runs() {
    let options = SimOptions::default();
    let config = options.cluster_config(5);
    assert_eq!(config.n(), 5);
    assert_eq!(config.f, 2);
    assert_eq!(config.timeouts.leader_timeout_ms, 200, "scaled down by 10");
    let heal = options.heal_at(&config);
    assert!(heal <= options.duration.mul_f64(0.7));
    assert!(options.duration - heal >= SimOptions::quiet_period(&config));
    let short = SimOptions {
        duration: Duration::from_millis(500),
        ..SimOptions::default()
    };
    assert_eq!(short.heal_at(&config), Duration::ZERO, "no room for faults");
}

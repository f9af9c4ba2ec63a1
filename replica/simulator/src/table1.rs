//! The paper's Table 1, measured: per protocol, the message delays on the critical path,
//! the messages the busiest replica handles per request, the quorum a request needs, and the
//! throughput change at 1% loss — all counted in failure-free simulations, none typed in.

use std::fmt::Write as _;
use std::time::Duration;

use dataplane::io::sim::LinkConfig;

use super::options::{FaultSet, SimOptions};
use super::trace::Trace;
use super::world::World;
use crate::time::Time;
use protocols::Protocol;

/// One protocol's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table1Row {
    pub protocol: &'static str,
    pub replicas: usize,
    /// Mean latency of a lone client's request, in one-way link delays.
    pub message_delays: f64,
    /// Datagrams in and out of the busiest replica per request, under load.
    pub busiest_replica_messages: f64,
    /// Fewest replicas that must take part for requests to complete without timeouts.
    pub quorum: usize,
    /// Throughput at 1% datagram loss relative to none, as a change in percent.
    pub loss_throughput_change: f64,
}

/// One-way delay of every link in the measurements.
const DELAY: Duration = Duration::from_micros(100);
const WARMUP: Duration = Duration::from_millis(300);
const WINDOW: Duration = Duration::from_millis(1000);

fn link(loss: f64) -> LinkConfig {
    LinkConfig {
        loss,
        delay: DELAY,
        ..LinkConfig::default()
    }
}

fn options(replicas: usize, clients: usize) -> SimOptions {
    SimOptions {
        replicas,
        clients: Some(clients),
        duration: WARMUP + WINDOW + Duration::from_millis(500),
        faults: FaultSet::NONE,
        think: Duration::ZERO,
        ..SimOptions::default()
    }
}

struct Measured {
    completed: u64,
    unfinished: u64,
    mean_latency: Duration,
    busiest: f64,
}

fn measure<P: Protocol>(
    replicas: usize,
    clients: usize,
    loss: f64,
    isolate: &[usize],
    seed: u64,
) -> Result<Measured, String> {
    let opts = options(replicas, clients);
    let mut world = World::<P>::new(&opts, seed, Trace::new(0, None))?;
    world.without_schedule();
    world.set_default_link(link(loss))?;
    world.sequencer_in_network(link(loss))?;
    world.isolate(isolate)?;
    let from = Time::ZERO + WARMUP;
    let to = from + WINDOW;
    world.run_until(from)?;
    let before = world.replica_messages();
    world.run_until(to)?;
    let w = world.window(from, to, &before);
    Ok(Measured {
        completed: w.completed,
        unfinished: w.unfinished,
        mean_latency: w.mean_latency,
        busiest: w.busiest_messages_per_op,
    })
}

/// Measures one protocol on `replicas` replicas.
pub fn table1_row<P: Protocol>(replicas: usize) -> Result<Table1Row, String> {
    let n = P::replicas(&options(replicas, 1).cluster_config(replicas));
    // A lone client: latency in link delays.
    let lone = measure::<P>(replicas, 1, 0.0, &[], 1)?;
    if lone.completed == 0 {
        return Err(format!("{}: no request completed without faults", P::NAME));
    }
    let message_delays = lone.mean_latency.as_secs_f64() / DELAY.as_secs_f64();
    // Under load: messages at the busiest replica, and the effect of 1% loss.
    let loaded = measure::<P>(replicas, 8, 0.0, &[], 2)?;
    let lossy = measure::<P>(replicas, 8, 0.01, &[], 2)?;
    let loss_throughput_change = if loaded.completed == 0 {
        f64::NAN
    } else {
        (lossy.completed as f64 / loaded.completed as f64 - 1.0) * 100.0
    };
    // The quorum: cut off more and more replicas (never replica 0, the first leader) until
    // requests stop completing at the normal latency.
    let mut quorum = n;
    for k in 1..n {
        let cut: Vec<usize> = (n - k..n).collect();
        let m = measure::<P>(replicas, 1, 0.0, &cut, 1)?;
        let normal = m.completed * 10 >= lone.completed * 9
            && m.mean_latency.as_secs_f64() <= lone.mean_latency.as_secs_f64() * 1.5
            && m.unfinished <= 1;
        if !normal {
            break;
        }
        quorum = n - k;
    }
    Ok(Table1Row {
        protocol: P::NAME,
        replicas: n,
        message_delays,
        busiest_replica_messages: loaded.busiest,
        quorum,
        loss_throughput_change,
    })
}

/// The rows as a table.
pub fn format_table1(rows: &[Table1Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:>8} {:>14} {:>22} {:>8} {:>20}",
        "protocol",
        "replicas",
        "message delays",
        "busiest replica msgs",
        "quorum",
        "throughput @1% loss"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<14} {:>8} {:>14.2} {:>22.2} {:>8} {:>19.1}%",
            r.protocol,
            r.replicas,
            r.message_delays,
            r.busiest_replica_messages,
            r.quorum,
            r.loss_throughput_change
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::nopaxos::Nopaxos;
    use protocols::unreplicated::Unreplicated;

    #[test]
    fn nopaxos_and_unreplicated_rows_match_the_protocols() {
        let nopaxos = table1_row::<Nopaxos>(3).unwrap();
        // Client to replicas through an in-network sequencer, replicas back to the client.
        assert!((nopaxos.message_delays - 2.0).abs() < 0.1, "{nopaxos:?}");
        assert_eq!(nopaxos.quorum, 2, "{nopaxos:?}");
        assert!(nopaxos.busiest_replica_messages >= 2.0, "{nopaxos:?}");
        let unreplicated = table1_row::<Unreplicated>(3).unwrap();
        assert!(
            (unreplicated.message_delays - 2.0).abs() < 0.1,
            "{unreplicated:?}"
        );
        assert_eq!(unreplicated.quorum, 1);
        assert!(unreplicated.busiest_replica_messages >= 2.0);
        let table = format_table1(&[nopaxos, unreplicated]);
        assert!(
            table.contains("nopaxos") && table.contains("unreplicated"),
            "{table}"
        );
    }
}

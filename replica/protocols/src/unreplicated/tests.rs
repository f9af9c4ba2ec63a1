use std::net::SocketAddrV4;
use std::time::Duration;

use super::*;
use crate::app::kv::{KvOp, KvResult, KvStore};
use crate::kit::pending::ClientTimeouts;
use crate::time::Time;
use crate::{Client, ClientError, Destination, MAX_DATAGRAM, Node, Replica};

fn addr(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new([127, 0, 0, 1].into(), port)
}

/// Moves every queued datagram from `from` to `to`, as a lossless network would.
fn deliver(from: &mut dyn Node, from_addr: SocketAddrV4, to: &mut dyn Node, now: Time) -> usize {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut n = 0;
    while let Some(t) = from.poll_transmit(&mut buf) {
        assert!(matches!(
            t.destination,
            Destination::Replica(0) | Destination::Client(_)
        ));
        to.handle_datagram(now, from_addr, &buf[..t.len]);
        n += 1;
    }
    n
}

#[test]
fn a_request_is_executed_once_and_answered() {
    let mut server = UnreplicatedServer::new(KvStore::default());
    let mut client = UnreplicatedClient::new(9, ClientTimeouts::default());
    let op = KvOp::Append {
        key: b"k",
        value: b"x",
    }
    .to_bytes();
    let id = client.invoke(Time::ZERO, &op).unwrap();
    assert!(client.invoke(Time::ZERO, &op).is_none(), "one at a time");
    assert_eq!(deliver(&mut client, addr(2), &mut server, Time::ZERO), 1);
    assert_eq!(deliver(&mut server, addr(1), &mut client, Time::ZERO), 1);
    let done = client.poll_completion().unwrap();
    assert_eq!(done.request, id);
    assert_eq!(
        KvResult::decode(&done.result.unwrap()).unwrap(),
        KvResult::Appended(b"x".to_vec())
    );
    assert_eq!(server.stats().executed, 1);
}

#[test]
fn a_lost_reply_is_recovered_by_resending_without_executing_twice() {
    let mut server = UnreplicatedServer::new(KvStore::default());
    let timeouts = ClientTimeouts::fixed(Duration::from_millis(10), Duration::from_millis(100));
    let mut client = UnreplicatedClient::new(9, timeouts);
    let op = KvOp::Append {
        key: b"k",
        value: b"x",
    }
    .to_bytes();
    client.invoke(Time::ZERO, &op).unwrap();
    deliver(&mut client, addr(2), &mut server, Time::ZERO);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    assert!(server.poll_transmit(&mut buf).is_some(), "reply lost");
    let t = client.poll_timeout().unwrap();
    assert_eq!(t, Time::from_millis(10));
    client.handle_timeout(t);
    deliver(&mut client, addr(2), &mut server, t);
    deliver(&mut server, addr(1), &mut client, t);
    let done = client.poll_completion().unwrap();
    assert_eq!(
        KvResult::decode(&done.result.unwrap()).unwrap(),
        KvResult::Appended(b"x".to_vec())
    );
    assert_eq!(server.stats().executed, 1);
    assert_eq!(server.stats().requests, 2);
}

#[test]
fn a_silent_server_ends_in_a_bounded_error() {
    let timeouts = ClientTimeouts::fixed(Duration::from_millis(10), Duration::from_millis(35));
    let mut client = UnreplicatedClient::new(1, timeouts);
    client.invoke(Time::ZERO, b"op").unwrap();
    let mut sent = 0;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while client.poll_completion().is_none() {
        while client.poll_transmit(&mut buf).is_some() {
            sent += 1;
        }
        let t = client.poll_timeout().unwrap();
        client.handle_timeout(t);
        assert!(t <= Time::from_millis(35));
    }
    assert_eq!(sent, 4);
    let mut client2 = UnreplicatedClient::new(1, timeouts);
    client2.invoke(Time::ZERO, b"op").unwrap();
    client2.handle_timeout(Time::from_millis(40));
    assert_eq!(
        client2.poll_completion().unwrap().result,
        Err(ClientError::GaveUp { attempts: 1 })
    );
}

#[test]
fn a_lost_request_is_resent_after_the_measured_round_trip_not_the_configured_time() {
    let mut server = UnreplicatedServer::new(KvStore::default());
    let mut client = UnreplicatedClient::new(9, ClientTimeouts::default());
    let op = KvOp::Get { key: b"k" }.to_bytes();
    // Before anything is measured the first wait is client_resend_ms (100 ms).
    client.invoke(Time::ZERO, &op).unwrap();
    assert_eq!(client.poll_timeout(), Some(Time::from_millis(100)));
    // Answered after 200 us: the round trip is learned.
    deliver(&mut client, addr(2), &mut server, Time::ZERO);
    deliver(&mut server, addr(1), &mut client, Time::from_micros(200));
    assert!(client.poll_completion().unwrap().result.is_ok());
    // The next request is lost; it goes out again after the 1 ms floor, not 100 ms.
    let start = Time::from_millis(5);
    client.invoke(start, &op).unwrap();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    assert!(client.poll_transmit(&mut buf).is_some(), "request lost");
    let due = client.poll_timeout().unwrap();
    assert_eq!(due, start + Duration::from_millis(1));
    client.handle_timeout(due);
    deliver(&mut client, addr(2), &mut server, due);
    deliver(&mut server, addr(1), &mut client, due);
    assert!(client.poll_completion().unwrap().result.is_ok());
    assert_eq!(client.resends(), 1);
}

#[test]
fn garbage_and_replies_sent_to_the_server_are_counted() {
    let mut server = UnreplicatedServer::new(KvStore::default());
    server.handle_datagram(Time::ZERO, addr(1), b"garbage");
    let mut buf = [0u8; 128];
    let mut w = crate::codec::Writer::new(&mut buf);
    Message::Reply {
        client: 1,
        request: 1,
        result: b"",
    }
    .encode(&mut w)
    .unwrap();
    let n = w.len();
    server.handle_datagram(Time::ZERO, addr(1), &buf[..n]);
    for len in 0..n {
        server.handle_datagram(Time::ZERO, addr(1), &buf[..len]);
    }
    let stats = server.stats();
    assert_eq!(stats.malformed, 1 + n as u64);
    assert_eq!(stats.unexpected, 1);
    assert!(server.poll_transmit(&mut [0u8; 64]).is_none());
}

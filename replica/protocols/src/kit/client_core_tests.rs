//! The client core with toy rules: one request at a time, where each attempt's copies go,
//! resends, giving up, and the protocol's own messages after the request's copies.

use std::net::SocketAddrV4;
use std::time::Duration;

use super::*;
use crate::codec::Reader;

const ME: ClientId = 7;

/// A REQUEST is the request id; a reply is (client, request, result byte); `resends_to`
/// replaces the first attempt's route on a resend.
#[derive(Debug)]
struct ToyRules {
    first: Route,
    resends_to: Route,
    ended: u32,
    resendings: u32,
    /// Bytes of the protocol's own message to send next.
    other: Option<u8>,
}

impl ToyRules {
    fn new(first: Route, resends_to: Route) -> ToyRules {
        ToyRules {
            first,
            resends_to,
            ended: 0,
            resendings: 0,
            other: None,
        }
    }
}

impl ClientRules for ToyRules {
    fn encode_request(&self, r: RequestCopy<'_>, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u64(r.client)?;
        w.u64(r.request)?;
        w.bytes(r.op)
    }

    fn route(&self, attempt: Attempt) -> Route {
        match attempt {
            Attempt::First => self.first,
            Attempt::Resend => self.resends_to,
        }
    }

    fn handle_reply(&mut self, awaiting: Awaiting, datagram: &[u8]) -> Option<Vec<u8>> {
        let [client, request, result] = *datagram else {
            return None;
        };
        awaiting.one_reply(client.into(), request.into(), &[result])
    }

    fn request_ended(&mut self) {
        self.ended += 1;
    }

    fn resending(&mut self) {
        self.resendings += 1;
    }

    fn poll_other(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        buf[0] = self.other.take()?;
        Some(Transmit {
            destination: Destination::OtherReplicas,
            len: 1,
        })
    }
}

fn timeouts() -> ClientTimeouts {
    ClientTimeouts::fixed(Duration::from_millis(10), Duration::from_millis(35))
}

fn client(first: Route, resends_to: Route) -> ClientCore<ToyRules> {
    ClientCore::with_rules(ME, timeouts(), ToyRules::new(first, resends_to))
}

fn from() -> SocketAddrV4 {
    SocketAddrV4::new([127, 0, 0, 1].into(), 9)
}

/// The destinations of every datagram the client has to send now.
fn drain(client: &mut ClientCore<ToyRules>) -> Vec<Destination> {
    let mut buf = [0u8; 64];
    std::iter::from_fn(|| client.poll_transmit(&mut buf).map(|t| t.destination)).collect()
}

#[test]
fn one_request_at_a_time_with_increasing_ids() {
    let mut c = client(Route::To(Destination::Group), Route::To(Destination::Group));
    assert_eq!(c.invoke(Time::ZERO, b"a"), Some(1));
    assert_eq!(c.invoke(Time::ZERO, b"b"), None, "one outstanding request");
    let mut buf = [0u8; 64];
    let t = c.poll_transmit(&mut buf).unwrap();
    assert_eq!(t.destination, Destination::Group);
    assert_eq!(
        OumRepr::parse_bytes(&buf[..t.len]).unwrap(),
        OumRepr::Unsequenced,
        "a copy for the group starts with a header for the sequencer to stamp"
    );
    let mut r = Reader::new(&buf[OUM_HEADER_LEN..t.len]);
    assert_eq!(r.u64().unwrap(), ME);
    assert_eq!(r.u64().unwrap(), 1);
    assert_eq!(r.bytes().unwrap(), b"a");
    assert_eq!(c.poll_transmit(&mut buf), None);
    c.handle_datagram(Time::from_millis(1), from(), &[7, 2, 9]);
    c.handle_datagram(Time::from_millis(1), from(), &[8, 1, 9]);
    assert_eq!(c.poll_completion(), None, "another request, another client");
    c.handle_datagram(Time::from_millis(1), from(), &[7, 1, 9]);
    assert_eq!(c.rules().ended, 1);
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.invoke(Time::from_millis(2), b"b"), Some(2));
    c.handle_datagram(Time::from_millis(3), from(), &[7, 2, 4]);
    let done: Vec<_> = std::iter::from_fn(|| c.poll_completion()).collect();
    assert_eq!(
        done,
        [
            Completion {
                request: 1,
                result: Ok(vec![9])
            },
            Completion {
                request: 2,
                result: Ok(vec![4])
            }
        ]
    );
}

#[test]
fn the_first_attempt_goes_one_way_and_resends_to_each_replica() {
    let mut c = client(Route::To(Destination::Replica(2)), Route::EachReplica(3));
    c.invoke(Time::ZERO, b"a");
    let mut buf = [0u8; 64];
    let t = c.poll_transmit(&mut buf).unwrap();
    assert_eq!(t.destination, Destination::Replica(2));
    assert_eq!(t.len, 8 + 8 + 4 + 1, "no OUM header for a replica");
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.poll_timeout(), Some(Time::from_millis(10)));
    c.handle_timeout(Time::from_millis(9));
    assert!(drain(&mut c).is_empty(), "not before the resend time");
    c.handle_timeout(Time::from_millis(10));
    assert_eq!(c.rules().resendings, 1);
    assert_eq!(
        drain(&mut c),
        (0..3).map(Destination::Replica).collect::<Vec<_>>()
    );
    assert_eq!(c.resends(), 1);
}

#[test]
fn the_route_is_asked_when_the_first_copy_is_polled() {
    let mut c = client(Route::To(Destination::Replica(0)), Route::EachReplica(2));
    c.invoke(Time::ZERO, b"a");
    c.rules.first = Route::To(Destination::Replica(1));
    assert_eq!(drain(&mut c), [Destination::Replica(1)]);
}

#[test]
fn a_request_without_an_answer_is_given_up() {
    let mut c = client(Route::To(Destination::Group), Route::To(Destination::Group));
    c.invoke(Time::ZERO, b"a");
    drain(&mut c);
    while let Some(due) = c.poll_timeout() {
        c.handle_timeout(due);
        drain(&mut c);
    }
    assert_eq!(
        c.poll_completion(),
        Some(Completion {
            request: 1,
            result: Err(ClientError::GaveUp { attempts: 4 })
        })
    );
    assert_eq!(c.resends(), 3);
    assert_eq!(c.rules().ended, 1);
    c.handle_datagram(Time::from_millis(40), from(), &[7, 1, 9]);
    assert_eq!(c.poll_completion(), None, "a late reply completes nothing");
}

#[test]
fn the_protocols_own_messages_follow_the_request_copies() {
    let mut c = client(Route::EachReplica(2), Route::EachReplica(2));
    c.rules.other = Some(5);
    assert!(
        drain(&mut c).is_empty(),
        "nothing while no request is outstanding"
    );
    c.invoke(Time::ZERO, b"a");
    assert_eq!(
        drain(&mut c),
        [
            Destination::Replica(0),
            Destination::Replica(1),
            Destination::OtherReplicas
        ]
    );
}

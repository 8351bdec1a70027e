//! Several agents (each a `Bus` with its own loop thread) on one private bus: full
//! mesh, no duplicate links, messages with captures between every pair, join and
//! leave in any order.

use ivy_testkit as common;

use common::*;
use ivy::{AppEvent, PeerId};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Duration;

/// A received message: (sender's name as seen by the receiver, captured args).
type Got = (Vec<u8>, Vec<Vec<u8>>);

struct Node {
    name: String,
    run: Running,
    apps: Receiver<AppRecord>,
    msgs: Receiver<Got>,
}

/// An agent `name`, bound to `^from (\S+) to (<name>) n=(\d+)$`, its loop running,
/// not started yet.
fn node(name: &str) -> Node {
    let bus = agent(name, Some(&format!("{name} Ready")));
    let (tx, msgs) = mpsc::channel();
    let re = format!("^from (\\S+) to ({name}) n=(\\d+)$");
    bus.bind(re.as_bytes(), move |bus, peer, args| {
        let _ = tx.send((bus.peer_name(peer).unwrap_or_default(), owned(args)));
    });
    let apps = app_events(&bus);
    Node { name: name.to_string(), run: Running::spawn(bus), apps, msgs }
}

/// Starts nodes one after the other, each once the previous ones are all connected.
fn start_sequential(names: &[impl AsRef<str>], port: u16) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for name in names {
        let n = node(name.as_ref());
        n.run.start(Some(&bus_addr(port))).expect("start");
        nodes.push(n);
        wait_mesh(&nodes);
    }
    nodes
}

/// Starts all nodes at the same moment, from one thread each; returns once they
/// are all connected.
fn start_concurrent(names: &[impl AsRef<str>], port: u16) -> Vec<Node> {
    let nodes: Vec<Node> = names.iter().map(|n| node(n.as_ref())).collect();
    let barrier = Arc::new(Barrier::new(nodes.len()));
    let starters: Vec<_> = nodes
        .iter()
        .map(|n| {
            let (bus, barrier) = (n.run.bus.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                bus.start(Some(&bus_addr(port))).expect("start");
            })
        })
        .collect();
    for s in starters {
        s.join().expect("starter thread");
    }
    wait_mesh(&nodes);
    nodes
}

/// Waits until every node lists exactly the others, once each, and knows each one's
/// subscription (a listed peer may still be in its handshake).
fn wait_mesh(nodes: &[Node]) {
    for n in nodes {
        let mut want: Vec<Vec<u8>> =
            nodes.iter().filter(|o| o.name != n.name).map(|o| o.name.clone().into_bytes()).collect();
        want.sort();
        wait_until(&format!("{} to list {} peers with their subscriptions", n.name, want.len()), || {
            let subscribed = n.run.peers().iter().all(|&p| n.run.peer_regexps(p).is_some_and(|r| r.len() == 1));
            subscribed && peer_names(&n.run) == want
        });
    }
}

/// Reads `n`'s application events until each of `names` has exactly one live link
/// (Connected and not Disconnected since), then checks nothing else happens. When
/// agents start together a duplicate link may be opened and dropped (§1.6, DESIGN
/// §5), but exactly one link per pair must remain, and it is the one listed.
fn expect_connected(n: &Node, names: &[&str]) {
    let mut live: BTreeMap<PeerId, Vec<u8>> = BTreeMap::new();
    let apply = |live: &mut BTreeMap<PeerId, Vec<u8>>, (peer, name, event): AppRecord| match event {
        AppEvent::Connected => {
            live.insert(peer, name);
        }
        AppEvent::Disconnected => {
            live.remove(&peer);
        }
        _ => {}
    };
    let mut want: Vec<Vec<u8>> = names.iter().map(|m| m.as_bytes().to_vec()).collect();
    want.sort();
    let sorted = |live: &BTreeMap<PeerId, Vec<u8>>| {
        let mut v: Vec<Vec<u8>> = live.values().cloned().collect();
        v.sort();
        v
    };
    while sorted(&live) != want {
        let what = format!("{} to see {names:?} connected (live {:?})", n.name, sorted(&live));
        let record = recv(&n.apps, &what);
        apply(&mut live, record);
    }
    // Settle: no further event (a late duplicate would show here).
    while let Ok(record) = n.apps.recv_timeout(Duration::from_millis(100)) {
        apply(&mut live, record);
    }
    assert_eq!(sorted(&live), want, "{}: live links", n.name);
    let mut listed: Vec<PeerId> = n.run.peers();
    listed.sort();
    let live_ids: Vec<PeerId> = live.keys().copied().collect();
    if listed.len() == live_ids.len() {
        assert_eq!(listed, live_ids, "{}: the listed peers are the live links", n.name);
    }
}

/// Every node sends to every other one; each message is routed once (count 1) and
/// arrives with the exact captures and sender.
fn exchange(nodes: &[Node], round: u32) {
    for s in nodes {
        for r in nodes.iter().filter(|r| r.name != s.name) {
            let msg = format!("from {} to {} n={round}", s.name, r.name);
            assert_eq!(s.run.send(msg.as_bytes()), Ok(1), "{msg}: routed count");
        }
    }
    for r in nodes {
        let mut got: Vec<Got> = (1..nodes.len()).map(|_| recv(&r.msgs, &format!("messages for {}", r.name))).collect();
        got.sort();
        let mut want: Vec<Got> = nodes
            .iter()
            .filter(|s| s.name != r.name)
            .map(|s| (s.name.clone().into_bytes(), strs(&[&s.name, &r.name, &round.to_string()])))
            .collect();
        want.sort();
        assert_eq!(got, want, "messages received by {}", r.name);
    }
    for r in nodes {
        assert_no_recv(&r.msgs, 20, "extra message");
    }
}

fn names_except<'a>(nodes: &'a [Node], me: &Node) -> Vec<&'a str> {
    nodes.iter().filter(|o| o.name != me.name).map(|o| o.name.as_str()).collect()
}

/// How the agents of a mesh start.
#[derive(Clone, Copy)]
enum Start {
    /// One after the other ([`start_sequential`]).
    Sequential,
    /// All at once ([`start_concurrent`]).
    Concurrent,
}

/// Agents `names` started on a private bus as `start` says: each ends up with
/// exactly one live link to each other one, then every agent sends to every
/// other one, in each of `rounds`.
fn full_mesh(names: &[impl AsRef<str>], start: Start, rounds: &[u32]) {
    let port = bus_port();
    let nodes = match start {
        Start::Sequential => start_sequential(names, port),
        Start::Concurrent => start_concurrent(names, port),
    };
    for n in &nodes {
        expect_connected(n, &names_except(&nodes, n));
        assert_eq!(n.run.peers().len(), nodes.len() - 1, "{}: peers", n.name);
    }
    for &round in rounds {
        exchange(&nodes, round);
    }
}

/// Names `<prefix>0`, `<prefix>1`...: `n` of them.
fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn two_agents() {
    full_mesh(&["alpha", "beta"], Start::Sequential, &[1, 2]);
}

#[test]
fn three_agents_sequential() {
    full_mesh(&["a1", "a2", "a3"], Start::Sequential, &[7]);
}

#[test]
fn three_agents_concurrent() {
    full_mesh(&["c1", "c2", "c3"], Start::Concurrent, &[1]);
}

#[test]
fn ten_agents_concurrent() {
    full_mesh(&numbered("m", 10), Start::Concurrent, &[1, 2]);
}

#[test]
fn ten_agents_sequential() {
    full_mesh(&numbered("s", 10), Start::Sequential, &[3]);
}

/// Sends `from <me> to <to> n=<i>` for i = 0, 1... every 100 µs until `stop`;
/// returns the numbers routed to a peer (count 1).
fn stream_to(bus: ivy::Bus, me: String, to: String, stop: Arc<AtomicBool>) -> JoinHandle<Vec<u32>> {
    std::thread::spawn(move || {
        let mut counted = Vec::new();
        for i in 0.. {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            match bus.send(format!("from {me} to {to} n={i}").as_bytes()) {
                Ok(1) => counted.push(i),
                Ok(0) => {}
                other => panic!("{me}: message {i} routed {other:?}"),
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        counted
    })
}

/// The numbers of the messages `node` receives until it has `n` of them.
fn receive_numbers(node: &Node, n: usize) -> Vec<u32> {
    let mut got: Vec<u32> = (0..n)
        .map(|_| {
            let (_, args) = recv(&node.msgs, &format!("{}: message {n} of those routed to it", node.name));
            String::from_utf8_lossy(args.last().map_or(&[][..], |a| &a[..])).parse().expect("a number")
        })
        .collect();
    assert_no_recv(&node.msgs, 50, "a message more than were routed");
    got.sort_unstable();
    got
}

/// The hello of `node`'s agent (§1.1), as it sends it.
fn hello_of(node: &Node) -> Vec<u8> {
    let id = String::from_utf8_lossy(&node.run.app_id()).into_owned();
    format!("3 {} {id} {}\n", node.run.port(), node.name).into_bytes()
}

#[test]
fn messages_sent_during_a_simultaneous_connect_arrive_once() {
    // Each agent alone on a bus of its own, sending all along; then each gets
    // the other's hello at the same moment: both dial, and one link goes,
    // drained (§1.6).
    let mut drained = 0;
    for round in 0..10 {
        let names = [format!("s{round}a"), format!("s{round}b")];
        let nodes: Vec<Node> = names.iter().map(|n| node(n)).collect();
        let ports = [bus_port(), bus_port()];
        for (n, port) in nodes.iter().zip(ports) {
            n.run.start(Some(&bus_addr(port))).expect("start");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = [(0, 1), (1, 0)]
            .map(|(s, r)| stream_to(nodes[s].run.bus.clone(), names[s].clone(), names[r].clone(), stop.clone()))
            .into_iter()
            .collect();
        let hellos = [hello_of(&nodes[1]), hello_of(&nodes[0])];
        for (port, hello) in ports.iter().zip(&hellos) {
            send_datagram(*port, hello);
        }
        wait_mesh(&nodes);
        std::thread::sleep(Duration::from_millis(30));
        stop.store(true, Ordering::SeqCst);
        let counted: Vec<Vec<u32>> = senders.into_iter().map(|s| s.join().expect("sender")).collect();
        for (r, sent) in [(1, &counted[0]), (0, &counted[1])] {
            assert!(!sent.is_empty(), "{}: nothing routed", names[1 - r]);
            assert_eq!(&receive_numbers(&nodes[r], sent.len()), sent, "{} received", names[r]);
        }
        drained += nodes.iter().filter(|n| n.apps.try_iter().any(|(_, _, e)| e == AppEvent::Disconnected)).count();
    }
    // The case the test is for did happen.
    assert!(drained > 0, "no duplicate link was dropped in 10 simultaneous connects");
}

/// Waits for `node` to see `who` leave.
#[track_caller]
fn expect_left(node: &Node, who: &str) {
    let (_, name) = next_app_event(&node.apps, AppEvent::Disconnected);
    assert_eq!(name, who.as_bytes(), "{} saw the wrong peer leave", node.name);
}

#[test]
fn join_and_leave_in_any_order() {
    let port = bus_port();
    let mut nodes = start_sequential(&["ja", "jb", "jc"], port);
    for n in &nodes {
        expect_connected(n, &names_except(&nodes, n));
    }

    // The middle one leaves.
    let mut b = nodes.remove(1);
    b.run.stop_and_join();
    for n in &nodes {
        expect_left(n, "jb");
        wait_peers(&n.run, 1);
    }
    exchange(&nodes, 1);

    // A newcomer joins.
    let d = node("jd");
    d.run.start(Some(&bus_addr(port))).expect("start");
    nodes.push(d);
    wait_mesh(&nodes);
    for n in &nodes {
        let want: Vec<&str> = if n.name == "jd" { vec!["ja", "jc"] } else { vec!["jd"] };
        expect_connected(n, &want);
    }
    exchange(&nodes, 2);

    // The oldest leaves.
    let mut a = nodes.remove(0);
    a.run.stop_and_join();
    for n in &nodes {
        expect_left(n, "ja");
        wait_peers(&n.run, 1);
    }

    // A new agent under a name seen before joins.
    let b2 = node("jb");
    b2.run.start(Some(&bus_addr(port))).expect("start");
    nodes.push(b2);
    wait_mesh(&nodes);
    exchange(&nodes, 3);

    // The newest leaves, then the next: the last one is alone.
    let mut last = nodes.pop().expect("node");
    last.run.stop_and_join();
    for n in &nodes {
        expect_left(n, "jb");
    }
    let mut first = nodes.remove(0);
    first.run.stop_and_join();
    expect_left(&nodes[0], "jc");
    wait_peers(&nodes[0].run, 0);
    assert_eq!(nodes[0].run.send(b"from jd to jc n=1"), Ok(0));
}

//! The UDP hello (protocol §1.1, §1.4) on arbitrary datagrams: [`hello_lines`] +
//! [`parse_hello`], and the engine's [`Engine::handle_datagram`].
//!
//! No panic; an accepted hello has version 3, fields within [`MAX_HELLO_ID`] and
//! [`MAX_HELLO_NAME`], an id without whitespace, and survives an encode/parse round
//! trip; the engine asks for at most one connection per accepted hello line, never
//! for its own id.
#![no_main]

use ivy_proto::engine::{Action, Engine};
use ivy_proto::testing::actions;
use ivy_proto::wire::{LF, MAX_HELLO_ID, MAX_HELLO_NAME, PROTOCOL_VERSION, encode_hello, hello_lines, parse_hello};
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, SocketAddr};

const OWN_ID: &[u8] = b"1:2:4000";

fuzz_target!(|data: &[u8]| {
    let mut accepted = 0;
    for line in hello_lines(data) {
        assert!(!line.is_empty() && !line.contains(&LF));
        let Ok(h) = parse_hello(line) else { continue };
        assert_eq!(h.version, PROTOCOL_VERSION);
        assert!(h.app_id.len() <= MAX_HELLO_ID);
        assert!(h.app_name.len() <= MAX_HELLO_NAME);
        assert!(!h.app_id.iter().any(|b| b" \t\n\r\x0b\x0c".contains(b)), "space in the id");
        assert!(!h.app_name.contains(&LF));
        let again = encode_hello(h.port, h.app_id, h.app_name);
        let lines: Vec<_> = hello_lines(&again).collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(parse_hello(lines[0]), Ok(h), "round trip");
        if h.app_id != OWN_ID {
            accepted += 1;
        }
    }

    let mut engine = Engine::new(b"FUZZ", None);
    engine.set_local(4000, OWN_ID);
    engine.handle_datagram(SocketAddr::from((Ipv4Addr::LOCALHOST, 2010)), data);
    let mut connects = 0;
    for action in actions(&mut engine) {
        match action {
            Action::Connect { addr, name } => {
                assert!(addr.ip().is_loopback());
                assert!(name.len() <= MAX_HELLO_NAME);
                connects += 1;
            }
            Action::Close(_) | Action::Drain(_) => panic!("close without a peer"),
        }
    }
    assert!(connects <= accepted, "{connects} connects for {accepted} hellos");
    assert!(!engine.has_events());
});

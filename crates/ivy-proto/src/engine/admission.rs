//! How many peer connections the engine holds, against [`super::Limits::max_peers`]:
//! peers whose connection is open or closing, and connections being dialled.

use super::{Engine, diag};

/// Peers counted against [`super::Limits::max_peers`], and how many were turned away.
#[derive(Debug, Default)]
pub struct Admission {
    /// Peers whose connection is still held (open or closing).
    held: usize,
    refused: u64,
}

impl Admission {
    pub fn opened(&mut self) {
        self.held += 1;
    }

    pub fn closed(&mut self) {
        self.held = self.held.saturating_sub(1);
    }
}

impl Engine {
    /// Whether one more peer connection (accepted, or to be dialled) fits under
    /// [`super::Limits::max_peers`]. When it does not, the refusal is counted and logged,
    /// `refused` naming what was turned away.
    pub fn room_for_peer(&mut self, refused: impl FnOnce() -> String) -> bool {
        let held = self.admission.held + self.connecting.len();
        let max = self.limits.max_peers;
        if held < max {
            return true;
        }
        self.refuse(|total| {
            format!("{}: {held} peer connections held, max_peers is {max} ({total} refused)", refused())
        });
        false
    }

    /// Whether a hello may make us dial: fewer connects under way than half of
    /// [`super::Limits::max_peers`] (rounded up), and room for one more peer. Anyone
    /// can send hellos, from any address, naming ports that never answer: the other
    /// half of the places stays for incoming connections while such connects hang
    /// (the runtime gives each up after a few seconds).
    pub fn room_to_dial(&mut self, refused: impl FnOnce() -> String) -> bool {
        let dialling = self.connecting.len();
        let max = self.limits.max_peers.div_ceil(2);
        if dialling < max {
            return self.room_for_peer(refused);
        }
        self.refuse(|total| format!("{}: {dialling} connects under way, at most {max} ({total} refused)", refused()));
        false
    }

    /// Counts a refusal and logs it; `why` gets the count so far.
    fn refuse(&mut self, why: impl FnOnce(u64) -> String) {
        self.admission.refused += 1;
        let total = self.admission.refused;
        diag::log(|| why(total));
    }
}

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
        self.admission.refused += 1;
        let total = self.admission.refused;
        diag::log(|| format!("{}: {held} peer connections held, max_peers is {max} ({total} refused)", refused()));
        false
    }
}

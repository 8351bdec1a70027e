//! The check for vanished hosts while data waits for them (see
//! [`crate::runtime::net::Liveness`]): a one-shot timer armed by a write, every
//! `interval` while data waits for some peer, none on an idle bus.

use super::Driver;
use crate::runtime::net::Liveness;
use std::sync::atomic::Ordering;

impl Driver {
    /// After a write (under the lock: `liveness` is the sockets'): has the
    /// peers checked one `interval` from now, unless a check is already due.
    pub(super) fn watch_liveness(&self, liveness: Option<Liveness>) {
        if liveness.is_none()
            || self.liveness_due.load(Ordering::Relaxed)
            || self.liveness_due.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.arm_liveness_check(liveness);
    }

    fn arm_liveness_check(&self, liveness: Option<Liveness>) {
        let Some(interval) = liveness.map(|l| l.interval) else {
            self.liveness_due.store(false, Ordering::Release);
            return;
        };
        let this = self.this.clone();
        let ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX).max(1);
        self.event_loop().add_timer(
            1,
            ms,
            Box::new(move |_, _, _| {
                if let Some(driver) = this.upgrade() {
                    driver.check_liveness();
                }
            }),
        );
    }

    /// Drops the peers whose host vanished, delivers their Disconnected, and
    /// checks again later while data waits for any peer.
    fn check_liveness(&self) {
        let _turn = self.turn.enter();
        let mut core = self.core.lock();
        let super::Core { engine, sockets, .. } = &mut *core;
        let waiting = sockets.drop_vanished_peers(engine);
        let liveness = sockets.liveness();
        self.service(&mut core);
        self.deliver(Some(core));
        if waiting {
            self.arm_liveness_check(liveness);
        } else {
            self.liveness_due.store(false, Ordering::Release);
        }
    }
}

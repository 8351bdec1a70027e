//! Values indexed by descriptor number. The kernel hands out the lowest free numbers,
//! so a vector indexed by them stays small and a lookup needs no hashing.

use std::os::fd::RawFd;

#[derive(Debug)]
pub(super) struct FdMap<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for FdMap<T> {
    fn default() -> Self {
        FdMap { slots: Vec::new() }
    }
}

impl<T> FdMap<T> {
    /// Stores `value` under `fd`; gives back the value it replaces. A negative `fd`
    /// (never a valid descriptor) is not stored: the value comes back.
    pub(super) fn insert(&mut self, fd: RawFd, value: T) -> Option<T> {
        let Ok(index) = usize::try_from(fd) else { return Some(value) };
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || None);
        }
        self.slots.get_mut(index).and_then(|slot| slot.replace(value))
    }

    pub(super) fn get(&self, fd: RawFd) -> Option<&T> {
        self.slots.get(usize::try_from(fd).ok()?)?.as_ref()
    }

    pub(super) fn get_mut(&mut self, fd: RawFd) -> Option<&mut T> {
        self.slots.get_mut(usize::try_from(fd).ok()?)?.as_mut()
    }

    pub(super) fn remove(&mut self, fd: RawFd) -> Option<T> {
        let value = self.slots.get_mut(usize::try_from(fd).ok()?)?.take();
        self.trim();
        value
    }

    /// Keeps only the values for which `keep` is true.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|v| !keep(v)) {
                *slot = None;
            }
        }
        self.trim();
    }

    /// Drops the empty slots at the end.
    fn trim(&mut self) {
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
    }

    /// Slots held (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_by_number() {
        let mut m = FdMap::default();
        assert_eq!(m.insert(5, "a"), None);
        assert_eq!(m.insert(3, "b"), None);
        assert_eq!(m.get(5), Some(&"a"));
        assert_eq!(m.get(4), None);
        assert_eq!(m.get(99), None);
        assert_eq!(m.insert(5, "c"), Some("a"), "a reused number replaces");
        if let Some(v) = m.get_mut(3) {
            *v = "d";
        }
        assert_eq!(m.get(3), Some(&"d"));
        assert_eq!(m.remove(5), Some("c"));
        assert_eq!(m.remove(5), None);
        assert_eq!(m.len(), 4, "trailing empty slots are dropped");
        m.retain(|v| *v != "d");
        assert_eq!(m.get(3), None);
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn negative_numbers_are_never_stored() {
        let mut m = FdMap::default();
        assert_eq!(m.insert(-1, 1), Some(1));
        assert_eq!(m.get(-1), None);
        assert_eq!(m.get_mut(-1), None);
        assert_eq!(m.remove(-1), None);
        assert_eq!(m.len(), 0);
    }
}

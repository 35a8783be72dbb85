//! First-fit allocation of code-heap instructions.
//!
//! Pure bookkeeping over instruction indices `0..capacity`, no I/O: [`crate::chains`] decides
//! when a range becomes free (after its quarantine), this module only remembers which ranges
//! are free and merges neighbours.

use std::collections::BTreeMap;

/// Free runs of the code heap, first-fit.
#[derive(Clone, Debug)]
pub(crate) struct CodeAlloc {
    capacity: u32,
    /// Free runs: first instruction → length. Never empty runs, never adjacent runs.
    free: BTreeMap<u32, u32>,
}

impl CodeAlloc {
    /// An allocator whose whole heap is free.
    pub(crate) fn new(capacity: u32) -> CodeAlloc {
        let mut free = BTreeMap::new();
        if capacity > 0 {
            free.insert(0, capacity);
        }
        CodeAlloc { capacity, free }
    }

    /// An allocator with `used` ranges taken and everything else free. `None` if a range is
    /// outside the heap or overlaps another; the index of the offending range is returned.
    pub(crate) fn with_used(capacity: u32, used: &[(u32, u32)]) -> Result<CodeAlloc, usize> {
        let mut order: Vec<usize> = (0..used.len()).collect();
        order.sort_by_key(|&i| used[i].0);
        let mut free = BTreeMap::new();
        let mut cursor = 0u32;
        for i in order {
            let (off, len) = used[i];
            let end = off.checked_add(len).ok_or(i)?;
            if len == 0 || off < cursor || end > capacity {
                return Err(i);
            }
            if off > cursor {
                free.insert(cursor, off - cursor);
            }
            cursor = end;
        }
        if cursor < capacity {
            free.insert(cursor, capacity - cursor);
        }
        Ok(CodeAlloc { capacity, free })
    }

    /// Takes the first free run of at least `len` instructions; `None` if there is none.
    pub(crate) fn alloc(&mut self, len: u32) -> Option<u32> {
        if len == 0 {
            return None;
        }
        let (&off, &run) = self.free.iter().find(|(_, &run)| run >= len)?;
        self.free.remove(&off);
        if run > len {
            self.free.insert(off + len, run - len);
        }
        Some(off)
    }

    /// Returns a range to the free runs, merging it with its neighbours.
    ///
    /// # Panics
    ///
    /// If the range is outside the heap or overlaps a free run (a double free): both are bugs
    /// of the caller, and continuing would hand the same instructions to two chains.
    pub(crate) fn free(&mut self, off: u32, len: u32) {
        assert!(
            len > 0 && off.checked_add(len).is_some_and(|e| e <= self.capacity),
            "free outside the heap"
        );
        let mut start = off;
        let mut total = len;
        if let Some((&p_off, &p_len)) = self.free.range(..=off).next_back() {
            assert!(p_off + p_len <= off, "double free in the code heap");
            if p_off + p_len == off {
                self.free.remove(&p_off);
                start = p_off;
                total += p_len;
            }
        }
        if let Some((&n_off, &n_len)) = self.free.range(off..).next() {
            assert!(off + len <= n_off, "double free in the code heap");
            if off + len == n_off {
                self.free.remove(&n_off);
                total += n_len;
            }
        }
        self.free.insert(start, total);
    }

    /// Free instructions in total.
    pub(crate) fn free_total(&self) -> u32 {
        self.free.values().sum()
    }

    /// The longest free run.
    pub(crate) fn largest_free(&self) -> u32 {
        self.free.values().copied().max().unwrap_or(0)
    }

    /// Whether a run of `len` would fit if `extra` ranges were also free.
    pub(crate) fn fits_with(&self, len: u32, extra: &[(u32, u32)]) -> bool {
        let mut probe = self.clone();
        for &(off, l) in extra {
            probe.free(off, l);
        }
        probe.largest_free() >= len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_splits_and_merges() {
        let mut a = CodeAlloc::new(100);
        assert_eq!(a.alloc(10), Some(0));
        assert_eq!(a.alloc(20), Some(10));
        assert_eq!(a.alloc(30), Some(30));
        assert_eq!(a.free_total(), 40);
        a.free(10, 20);
        // First fit: the hole at 10 takes a chain of 15.
        assert_eq!(a.alloc(15), Some(10));
        a.free(10, 15);
        a.free(0, 10);
        a.free(30, 30);
        assert_eq!(a.free_total(), 100);
        assert_eq!(a.largest_free(), 100);
        assert_eq!(a.alloc(100), Some(0));
        assert_eq!(a.alloc(1), None);
    }

    #[test]
    fn rebuild_from_used_ranges() {
        let a = CodeAlloc::with_used(100, &[(50, 10), (0, 5)]).expect("valid");
        assert_eq!(a.free_total(), 85);
        assert_eq!(a.largest_free(), 45);
        assert_eq!(
            CodeAlloc::with_used(100, &[(0, 10), (5, 10)]).unwrap_err(),
            1
        );
        assert_eq!(CodeAlloc::with_used(100, &[(95, 10)]).unwrap_err(), 0);
        assert_eq!(CodeAlloc::with_used(100, &[(5, 0)]).unwrap_err(), 0);
    }

    #[test]
    fn fits_with_counts_extra_ranges() {
        let mut a = CodeAlloc::new(10);
        assert_eq!(a.alloc(10), Some(0));
        assert!(!a.fits_with(5, &[]));
        assert!(a.fits_with(5, &[(0, 3), (3, 2)]));
    }

    #[test]
    #[should_panic(expected = "double free")]
    fn double_free_panics() {
        let mut a = CodeAlloc::new(10);
        a.alloc(5);
        a.free(0, 5);
        a.free(2, 2);
    }
}

//! The allocator of the `protomesh` binary and the bench rigs: mimalloc, entered by its plain
//! `mi_malloc` wherever a layout allows.
//!
//! The `mimalloc` crate hands every allocation to `mi_malloc_aligned`, whose fast path only
//! takes blocks of at most 1 KiB that happen to sit at an aligned address. Async code boxes
//! futures larger than that on every call, and those fell to mimalloc's generic path, which
//! over-allocates to align: about 10 of the 48 allocations of an embedded REST call, 1.6k of
//! its 40.3k instructions (callgrind, `gateway/benches/callgrind`).
//!
//! mimalloc's blocks of 16 bytes or more are 16-byte aligned, smaller ones 8-byte aligned, so a
//! layout whose alignment is at most 16 and at most its size is served as it is by `mi_malloc`;
//! any other goes to the aligned entry points. Freeing is `mi_free` either way.
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: protomesh_allocator::MiMalloc = protomesh_allocator::MiMalloc;
//! # fn main() {
//! #     let boxed: Vec<u128> = (0..1000).collect();
//! #     assert_eq!(boxed.as_ptr() as usize % 16, 0);
//! # }
//! ```

use std::{
    alloc::{GlobalAlloc, Layout},
    ffi::c_void,
};

use libmimalloc_sys as mi;

/// The largest alignment every `mi_malloc` block of at least that size has.
const MI_MAX_ALIGN_SIZE: usize = 16;

/// mimalloc as the global allocator (see the [crate docs](crate)).
#[derive(Debug, Clone, Copy, Default)]
pub struct MiMalloc;

/// Whether `mi_malloc(size)` already gives `align`.
#[inline]
fn plain(align: usize, size: usize) -> bool {
    align <= MI_MAX_ALIGN_SIZE && align <= size
}

// SAFETY (for each method): the pointers passed in come from this allocator (the
// `GlobalAlloc` contract), every block is released with `mi_free` whichever entry point made
// it, and a plain entry point is used only where `plain` shows its blocks have the alignment.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            if plain(layout.align(), new_size) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

/// Returns what this thread has freed to the OS now.
///
/// mimalloc hands freed pages back to the OS only after a delay, and only when the thread that
/// freed them allocates or frees again. A thread that frees a large block and then sits idle
/// (a blocking-pool thread after a memory-hard password hash, which takes 19 MiB for a moment)
/// would keep it resident until it next works; calling this after such work gives it back at
/// once. Costs a walk of this thread's heap: for occasional large work, not per call.
/// Harmless when mimalloc is not the global allocator (its heaps are then empty).
pub fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any time.
    #[allow(unsafe_code)]
    unsafe {
        mi::mi_collect(true)
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    /// Every size and alignment in the range gets a block with that alignment, writable over
    /// its whole size; growing and shrinking keep the contents and the alignment.
    #[test]
    fn blocks_have_their_alignment_and_keep_their_contents() {
        let a = MiMalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in (align..=5000).step_by(align.max(7)) {
                let mut layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let mut p = a.alloc(layout);
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    fill(p, size);
                    for new_size in [size * 3, (size / 2).max(1)] {
                        p = a.realloc(p, layout, new_size);
                        assert_eq!(p as usize % align, 0, "{size} -> {new_size}, align {align}");
                        let kept = layout.size().min(new_size);
                        assert!((0..kept).all(|i| p.add(i).read() == i as u8));
                        layout = Layout::from_size_align(new_size, align).unwrap();
                        fill(p, new_size);
                    }
                    a.dealloc(p, layout);
                }
            }
        }
    }

    /// This process's resident anonymous memory, in KiB.
    fn resident_anon_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// A block of a password hash's size, written and freed, stays resident until
    /// `release_freed_memory`, which gives it back.
    #[test]
    fn freed_memory_is_released_on_request() {
        const MIB: usize = 1024 * 1024;
        let a = MiMalloc;
        let layout = Layout::from_size_align(19 * MIB, 8).unwrap();
        let before = resident_anon_kib();
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            p.write_bytes(1, layout.size());
            let touched = resident_anon_kib();
            assert!(touched >= before + 18 * 1024, "{before} -> {touched} KiB");
            a.dealloc(p, layout);
        }
        let freed = resident_anon_kib();
        release_freed_memory();
        let released = resident_anon_kib();
        assert!(
            released + 16 * 1024 <= freed,
            "freed {freed} KiB, released {released} KiB"
        );
    }

    /// Writes a counting pattern over `size` bytes at `p`.
    unsafe fn fill(p: *mut u8, size: usize) {
        assert!(!p.is_null());
        for i in 0..size {
            unsafe { p.add(i).write(i as u8) };
        }
    }

    /// Zeroed blocks are zero, at every alignment.
    #[test]
    fn zeroed_blocks_are_zero() {
        let a = MiMalloc;
        for (size, align) in [
            (8, 8),
            (24, 8),
            (48, 16),
            (1500, 16),
            (3000, 64),
            (16, 4096),
        ] {
            let layout = Layout::from_size_align(size, align).unwrap();
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert_eq!(p as usize % align, 0);
                assert!((0..size).all(|i| p.add(i).read() == 0));
                a.dealloc(p, layout);
            }
        }
    }
}

//! Launch choices a test can force, so that the configurations another adapter would
//! pick run, and are held to the reference, on this one.
//!
//! Workgroup sizes and per-thread work are chosen from the adapter: its subgroup size
//! (conv's GEMM workgroups, matmul V4), whether it is a CPU driver, and its limits
//! (PAV V3). CI runs on lavapipe and llvmpipe only, so without an override the
//! configurations a GPU picks would never be tested. The override is per thread: a
//! test forces one and the launches it makes follow it; other tests are unaffected.

use std::cell::Cell;

/// What launch choices assume of the adapter. `None` leaves a choice to the adapter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaunchOverride {
    /// The subgroup size workgroups are built on (conv's GEMM and weight-gradient
    /// kernels, matmul V4). Must be a multiple of this adapter's subgroup size, so that
    /// a workgroup still holds whole subgroups.
    pub lanes: Option<u32>,
    /// Whether shape choices take their CPU-driver branch (matmul V4's 8 columns per
    /// lane, the 8-lane row workgroups of PAV V1/V2 and the sort).
    pub cpu: Option<bool>,
    /// PAV V3's threads per workgroup; each owns SH / WG sorted positions. Refused
    /// (as a shape error) where that does not fit the adapter.
    pub pav_v3_wg: Option<usize>,
}

const NONE: LaunchOverride = LaunchOverride {
    lanes: None,
    cpu: None,
    pav_v3_wg: None,
};

thread_local! {
    static CURRENT: Cell<LaunchOverride> = const { Cell::new(NONE) };
}

/// Runs `f` with `o` forced on this thread, then restores what was there (also when
/// `f` panics).
pub fn with_launch_override<R>(o: LaunchOverride, f: impl FnOnce() -> R) -> R {
    struct Restore(LaunchOverride);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.set(self.0);
        }
    }
    let _restore = Restore(CURRENT.replace(o));
    f()
}

/// The override in force on this thread.
pub(crate) fn current() -> LaunchOverride {
    CURRENT.get()
}

/// Whether a test forces anything on this thread (an override other than the default).
pub(crate) fn active() -> bool {
    current() != NONE
}

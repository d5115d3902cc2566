//! f64 references of the soft-rank family (`ops::softrank`).

pub mod network;
pub mod pairwise;
pub mod pav;
pub mod sort;

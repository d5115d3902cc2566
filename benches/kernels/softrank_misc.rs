//! (not yet written)
use crate::harness::Harness;

pub fn bench(_h: &mut Harness) {}

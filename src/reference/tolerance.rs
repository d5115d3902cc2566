//! How far an f32 kernel's result may sit from its f64 reference: one type for the
//! tests and the benchmark's validation, so both hold a kernel to the same bound and
//! the bound's reason is written once, beside the reference it is measured against
//! (each family's `tolerance` items).

use crate::autograd::gradcheck::worst_violation;

/// Every element must satisfy `|got - want| <= atol + rtol * |want|`; NaN against a
/// number always fails (outputs are poisoned with NaN first, so an unwritten element
/// shows).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub atol: f64,
    pub rtol: f64,
}

impl Tolerance {
    /// Bit-exact results (selection, gathers, max pooling, integer indices).
    pub const EXACT: Tolerance = Tolerance::new(0.0, 0.0);

    pub const fn new(atol: f64, rtol: f64) -> Tolerance {
        Tolerance { atol, rtol }
    }

    /// An absolute bound only.
    pub const fn abs(atol: f64) -> Tolerance {
        Tolerance::new(atol, 0.0)
    }

    /// The largest violation, as (excess over the bound, index); None when all pass.
    fn worst_violation(&self, got: &[f64], want: &[f64]) -> Option<(f64, usize)> {
        worst_violation(got, want, self.atol, self.rtol)
    }

    /// None when `got` (f32, as a kernel gives it) is within the bound of `want`, else
    /// a one-line report of the worst element.
    pub fn check(&self, got: &[f32], want: &[f64]) -> Result<(), String> {
        if got.len() != want.len() {
            return Err(format!("length {} vs reference {}", got.len(), want.len()));
        }
        let got: Vec<f64> = got.iter().map(|&x| x as f64).collect();
        match self.worst_violation(&got, want) {
            None => Ok(()),
            Some((_, i)) => Err(format!(
                "index {i}: got {} want {} (atol {:e}, rtol {:e})",
                got[i], want[i], self.atol, self.rtol
            )),
        }
    }
}

/// Largest |value| (0 for an empty or all-zero slice).
pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// Largest |value|, at least 1: the scale of outputs whose error is absolute in the
/// largest term (differences that can cancel, sums of products).
pub fn magnitude(v: &[f64]) -> f64 {
    v.iter().fold(1.0f64, |m, x| m.max(x.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_absolute_plus_relative_and_nan_fails() {
        let t = Tolerance::new(1e-3, 1e-2);
        assert!(t.check(&[1.0105], &[1.0]).is_ok());
        assert!(t.check(&[1.012], &[1.0]).is_err());
        assert!(t.check(&[f32::NAN], &[1.0]).is_err());
        assert!(t.check(&[1.0], &[1.0, 2.0]).is_err());
        assert!(Tolerance::EXACT.check(&[0.5], &[0.5]).is_ok());
        let e = Tolerance::EXACT.check(&[0.5, 0.25], &[0.5, 0.5]).unwrap_err();
        assert!(e.starts_with("index 1:"), "{e}");
    }
}

//! Shape arithmetic shared by the GPU ops and their f64 references.

use crate::error::{Error, Result};

/// Most dimensions a broadcasting or reducing kernel takes.
pub const MAX_RANK: usize = 8;

/// Row-major strides of a contiguous tensor.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// NumPy broadcasting: shapes aligned on the right, each pair equal or one of them 1.
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
        let db = if i + b.len() >= r { b[i + b.len() - r] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(Error::shapes(op, a, b, "cannot broadcast")),
        };
    }
    if r > MAX_RANK {
        return Err(Error::shapes(op, a, b, format!("rank above {MAX_RANK}")));
    }
    Ok(out)
}

/// Strides with which an input of shape `from` is read at each index of `to`
/// (0 along broadcast dimensions). `to` must be a broadcast of `from`.
pub fn broadcast_strides(from: &[usize], to: &[usize]) -> Vec<usize> {
    let s = strides(from);
    let off = to.len() - from.len();
    (0..to.len())
        .map(|i| {
            if i < off || from[i - off] == 1 {
                0
            } else {
                s[i - off]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(
            broadcast_shape("t", &[2, 3, 4, 5], &[1, 3, 1, 1]).unwrap(),
            vec![2, 3, 4, 5]
        );
        assert_eq!(broadcast_shape("t", &[4, 5], &[3, 1, 5]).unwrap(), vec![3, 4, 5]);
        assert_eq!(broadcast_shape("t", &[], &[2]).unwrap(), vec![2]);
        let e = broadcast_shape("t", &[2, 3], &[4, 3]).unwrap_err().to_string();
        assert!(e.contains("[2, 3]") && e.contains("[4, 3]"), "{e}");
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
    }
}

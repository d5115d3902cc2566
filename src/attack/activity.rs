//! The spatial-activity map of Korhonen and You, "Adversarial attacks against blind
//! image quality assessment models" (QoEVMA 2022), which confines their attack's
//! changes to textured regions where they are hard to see. As their MATLAB code
//! (`generateAdversaryImage.m`) computes it, per image:
//!
//! 1. the luma Y = 0.299 R + 0.587 G + 0.114 B (their `rgb2ycbcr`'s Y up to an affine
//!    map, which step 3 cancels);
//! 2. Sobel responses with `[-1 -2 -1; 0 0 0; 1 2 1] / 8` and its transpose, zero
//!    padding (`imfilter`'s default), combined as the gradient magnitude
//!    sqrt(gx^2 + gy^2) (their code keeps the squared magnitude; the attack's
//!    description says magnitude, and under Adam a per-pixel scale that does not
//!    change between steps mostly cancels, so the map acts as a mask);
//! 3. the one-pixel border set to 0, the map divided by its maximum (all ones where
//!    the image is flat and the maximum is 0);
//! 4. a grey-level dilation (maximum) over the 5x5 disc
//!    `[0 1 1 1 0; 1 1 1 1 1; 1 1 1 1 1; 1 1 1 1 1; 0 1 1 1 0]`, positions outside
//!    the image ignored.
//!
//! The map depends only on the clean image, so it is computed once per batch on the
//! host, in f64, and multiplies every step's gradient (broadcast over RGB).

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The offsets of the 5x5 disc (the square without its corners).
fn disc() -> impl Iterator<Item = (isize, isize)> {
    (-2isize..=2)
        .flat_map(|dy| (-2isize..=2).map(move |dx| (dy, dx)))
        .filter(|&(dy, dx)| dy.abs() + dx.abs() < 4)
}

/// The map of one planar RGB image (`3 * h * w` values in [0, 1]), `h * w` values in
/// [0, 1].
pub fn activity_map(rgb: &[f32], h: usize, w: usize) -> Vec<f32> {
    let n = h * w;
    assert_eq!(rgb.len(), 3 * n, "activity_map: 3 planes of {h}x{w}");
    let y: Vec<f64> = (0..n)
        .map(|i| {
            0.299 * f64::from(rgb[i]) + 0.587 * f64::from(rgb[n + i]) + 0.114 * f64::from(rgb[2 * n + i])
        })
        .collect();
    let at = |r: isize, c: isize| -> f64 {
        if r < 0 || c < 0 || r >= h as isize || c >= w as isize {
            0.0
        } else {
            y[r as usize * w + c as usize]
        }
    };
    let mut mag = vec![0.0f64; n];
    for r in 1..h.saturating_sub(1) {
        for c in 1..w.saturating_sub(1) {
            let (r, c) = (r as isize, c as isize);
            // [-1 -2 -1; 0 0 0; 1 2 1] / 8 (rows) and its transpose (columns).
            let gx = (at(r + 1, c - 1) + 2.0 * at(r + 1, c) + at(r + 1, c + 1)
                - at(r - 1, c - 1)
                - 2.0 * at(r - 1, c)
                - at(r - 1, c + 1))
                / 8.0;
            let gy = (at(r - 1, c + 1) + 2.0 * at(r, c + 1) + at(r + 1, c + 1)
                - at(r - 1, c - 1)
                - 2.0 * at(r, c - 1)
                - at(r + 1, c - 1))
                / 8.0;
            mag[r as usize * w + c as usize] = (gx * gx + gy * gy).sqrt();
        }
    }
    let max = mag.iter().copied().fold(0.0f64, f64::max);
    if max <= 0.0 {
        return vec![1.0; n];
    }
    (0..n)
        .map(|i| {
            let (r, c) = ((i / w) as isize, (i % w) as isize);
            disc()
                .filter_map(|(dy, dx)| {
                    let (rr, cc) = (r + dy, c + dx);
                    (rr >= 0 && cc >= 0 && rr < h as isize && cc < w as isize)
                        .then(|| mag[rr as usize * w + cc as usize])
                })
                .fold(0.0f64, f64::max)
                / max
        })
        .map(|v| v as f32)
        .collect()
}

/// The maps of a batch `[B, 3, H, W]` on the device, `[B, 1, H, W]`.
pub fn activity_maps(x: &Tensor) -> Result<Tensor> {
    let &[b, 3, h, w] = x.shape() else {
        return Err(Error::shape(
            "korhonen activity map",
            format!("[B, 3, H, W] RGB images, got {:?}", x.shape()),
        ));
    };
    let v = x.to_vec()?;
    let maps: Vec<f32> = v
        .chunks(3 * h * w)
        .flat_map(|img| activity_map(img, h, w))
        .collect();
    Tensor::from_slice(x.gpu(), &maps, &[b, 1, h, w])
}

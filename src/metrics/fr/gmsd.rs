//! Gradient magnitude similarity deviation, as piq 0.8.0's `gmsd(x, y, data_range=1.0)`
//! (Xue et al. 2013).

use super::gray::Gray;
use super::image::Planes;
use super::{FrError, check_grey_or_rgb, check_pair};

/// piq's stability constant `t = 170 / 255^2`: the paper's `c = 170` for 8-bit values, moved to
/// [0, 1] data (gradients scale with the data, squared gradients with its square).
pub const GMSD_T: f64 = 170.0 / (255.0 * 255.0);

/// GMSD of distorted `x` against reference `y`; lower is better, 0 for identical images.
///
/// As piq: take the luminance `Y = 0.299 R + 0.587 G + 0.114 B` (RGB) or the grey channel;
/// zero-pad one row and column at the bottom and right if the height or width is odd, then
/// average-pool 2x2; Prewitt gradients `h_x = [[-1, 0, 1]] * 3 rows / 3`, `h_y` its transpose,
/// with zero padding ('same' size); magnitudes `m = sqrt(gx^2 + gy^2)`; the similarity map
///
/// `GMS = (2 m_x m_y + T) / (m_x^2 + m_y^2 + T)`, `T` = [`GMSD_T`],
///
/// and GMSD = its population standard deviation `sqrt(mean((GMS - mean(GMS))^2))`.
/// Errors: sizes differ, empty images, or a channel count other than 1 or 3.
pub fn gmsd(x: &Planes, y: &Planes) -> Result<f64, FrError> {
    check_pair("gmsd", x, y)?;
    check_grey_or_rgb("gmsd", x)?;
    let (gx, gy) = (pool_half(&Gray::luminance(x)), pool_half(&Gray::luminance(y)));
    let (mx, my) = (gradient_magnitude(&gx), gradient_magnitude(&gy));
    let gms: Vec<f64> = mx
        .iter()
        .zip(&my)
        .map(|(a, b)| (2.0 * a * b + GMSD_T) / (a * a + b * b + GMSD_T))
        .collect();
    Ok(std_dev(&gms))
}

/// Zero-pad bottom and right by `max(H % 2, W % 2)`, then 2x2 average pooling.
fn pool_half(g: &Gray) -> Gray {
    let pad = (g.h % 2).max(g.w % 2);
    if pad > 0 {
        g.pad_zero_bottom_right(pad).avg_pool(2)
    } else {
        g.avg_pool(2)
    }
}

/// `sqrt(gx^2 + gy^2)` of the Prewitt gradients with zero padding, same size as `g`.
fn gradient_magnitude(g: &Gray) -> Vec<f64> {
    let at = |i: isize, j: isize| -> f64 {
        if i < 0 || j < 0 || i >= g.h as isize || j >= g.w as isize {
            0.0
        } else {
            g.data[i as usize * g.w + j as usize]
        }
    };
    let mut out = Vec::with_capacity(g.h * g.w);
    for i in 0..g.h as isize {
        for j in 0..g.w as isize {
            let (mut gx, mut gy) = (0.0, 0.0);
            for d in -1..=1 {
                gx += at(i + d, j + 1) - at(i + d, j - 1);
                gy += at(i + 1, j + d) - at(i - 1, j + d);
            }
            let (gx, gy) = (gx / 3.0, gy / 3.0);
            out.push((gx * gx + gy * gy).sqrt());
        }
    }
    out
}

/// Population standard deviation.
fn std_dev(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / n).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prewitt_magnitude_of_a_unit_ramp_is_two_inside() {
        // v = column index: gx = (1/3) * 3 rows * (v[j+1] - v[j-1]) = 2, gy = 0.
        let g = Gray {
            h: 4,
            w: 5,
            data: (0..20).map(|v| (v % 5) as f64).collect(),
        };
        let m = gradient_magnitude(&g);
        assert!((m[5 + 2] - 2.0).abs() < 1e-15, "{}", m[7]);
    }
}

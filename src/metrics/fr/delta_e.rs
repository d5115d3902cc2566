//! Mean colour difference in CIELAB (CIE76 Delta E*ab), the colour-fidelity member of
//! the synthetic set's label ensemble.
//!
//! Why it is here: GMSD and VIFp read luminance only and FSIM's chroma term is weak, so
//! a chroma blur (colour diffusion), a uniform brightness shift or a colour cast barely
//! moves them; Delta E sees all three, and it has a perceptual unit: about 2.3 is one
//! just-noticeable difference (Sharma, "Digital Color Imaging Handbook", 2003).
//!
//! ```text
//! RGB in [0, 1] is sRGB: linear = c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055)^2.4
//! XYZ = M_sRGB(D65) * linear;  L*a*b* relative to the D65 white (0.95047, 1, 1.08883)
//! f(t) = t^(1/3) if t > (6/29)^3 else t / (3 (6/29)^2) + 4/29
//! L* = 116 f(Y) - 16, a* = 500 (f(X) - f(Y)), b* = 200 (f(Y) - f(Z))
//! delta_e = mean over pixels of sqrt(dL^2 + da^2 + db^2)       (0 = identical, 100 = black vs white)
//! ```

use super::{FrError, Planes, check_pair};

/// sRGB (D65) to XYZ, IEC 61966-2-1.
const SRGB_TO_XYZ: [[f64; 3]; 3] = [
    [0.412_456_4, 0.357_576_1, 0.180_437_5],
    [0.212_672_9, 0.715_152_2, 0.072_175_0],
    [0.019_333_9, 0.119_192_0, 0.950_304_1],
];
/// The D65 reference white.
const WHITE: [f64; 3] = [0.950_47, 1.0, 1.088_83];

/// sRGB electro-optical transfer: an encoded value to linear light.
fn linear_exact(c: f64) -> f64 {
    if c <= 0.040_45 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// [`linear_exact`], read from a table when `c` is an 8-bit value k / 255 (as every
/// decoded image is): `powf` per channel and pixel was most of the metric's time.
fn linear(c: f64) -> f64 {
    static TABLE: std::sync::OnceLock<[f64; 256]> = std::sync::OnceLock::new();
    let k = (c * 255.0).round();
    if (0.0..=255.0).contains(&k) && (c * 255.0 - k).abs() < 1e-9 {
        let t = TABLE.get_or_init(|| std::array::from_fn(|i| linear_exact(i as f64 / 255.0)));
        t[k as usize]
    } else {
        linear_exact(c)
    }
}

fn lab_f(t: f64) -> f64 {
    const D: f64 = 6.0 / 29.0;
    if t > D * D * D {
        t.cbrt()
    } else {
        t / (3.0 * D * D) + 4.0 / 29.0
    }
}

/// CIELAB (L*, a*, b*) of one sRGB pixel in [0, 1].
pub fn srgb_to_lab(rgb: [f64; 3]) -> [f64; 3] {
    let lin = rgb.map(linear);
    let mut f = [0.0; 3];
    for (k, row) in SRGB_TO_XYZ.iter().enumerate() {
        let xyz = row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2];
        f[k] = lab_f(xyz / WHITE[k]);
    }
    [116.0 * f[1] - 16.0, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])]
}

/// Mean CIE76 colour difference of distorted `x` against reference `y` (RGB only);
/// lower is better, 0 for identical images.
pub fn delta_e(x: &Planes, y: &Planes) -> Result<f64, FrError> {
    check_pair("delta_e", x, y)?;
    if x.channels != 3 {
        return Err(FrError::Invalid {
            metric: "delta_e",
            detail: format!("needs RGB images, got {} channel(s)", x.channels),
        });
    }
    let lab_x = to_lab(x);
    let total: f64 = with_reference_lab(y, |lab_y| {
        lab_x
            .iter()
            .zip(lab_y)
            .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt())
            .sum()
    });
    Ok(total / lab_x.len() as f64)
}

/// CIELAB of every pixel of an RGB image.
fn to_lab(p: &Planes) -> Vec<[f64; 3]> {
    let n = p.height * p.width;
    (0..n)
        .map(|i| srgb_to_lab([p.data[i], p.data[n + i], p.data[2 * n + i]]))
        .collect()
}

/// Runs `f` on the reference's CIELAB pixels, converted once per thread for a run of
/// calls against the same reference (recognised by [`Planes::fingerprint`]): labelling
/// the distortions of one reference converts it once.
fn with_reference_lab<T>(y: &Planes, f: impl FnOnce(&[[f64; 3]]) -> T) -> T {
    thread_local! {
        static LAST: std::cell::RefCell<(u64, Vec<[f64; 3]>)> = const { std::cell::RefCell::new((0, Vec::new())) };
    }
    let key = y.fingerprint();
    LAST.with(|cell| {
        let mut last = cell.borrow_mut();
        if last.0 != key || last.1.is_empty() {
            *last = (key, to_lab(y));
        }
        f(&last.1)
    })
}

//! Full-reference metrics (`cprl::metrics::fr`) against piq 0.8.0's values in
//! `tests/data/fr_metrics/labels.csv` (50 distorted/reference pairs, 256x256 RGB), plus
//! hand-derivable cases and the error paths.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cprl::metrics::fr::{
    self, FrError, MS_SSIM_WEIGHTS, Planes, SsimParams, filter::gaussian_window, gmsd, ms_ssim, ms_ssim_with,
    psnr, ssim, ssim_with, vif_p,
};

// Tolerances reached against piq 0.8.0 (absolute; the largest difference over the 50 rows is in
// brackets). labels.csv rounds every value to 5 decimals, so no comparison can be tighter than
// the rounding's half unit, 5e-6; on top of that piq ran in float32 while these metrics run in
// f64, so what is left is piq's float32 rounding, not a difference of convention.
/// PSNR in dB (7.1e-6): the 5e-6 rounding plus float32 rounding in piq's MSE (a relative error
/// of 5e-7 in the MSE moves PSNR by 2e-6 dB); 1e-6 is out of reach through a 5-decimal CSV.
const TOL_PSNR: f64 = 1e-5;
/// MS-SSIM, 7x7 window (1.5e-5): float32 noise in piq's variances and in the power product.
const TOL_MS_SSIM: f64 = 2e-5;
/// GMSD (4.7e-6): within the rounding.
const TOL_GMSD: f64 = 1e-5;
/// VIFp (4.1e-4, on photo r00; r05 stays under 2e-5): piq forms variances as E[v^2] - mu^2 on
/// data scaled to 0..255 in float32, so bright flat areas (v^2 ~ 6.5e4, float32 step ~4e-3) get
/// variance noise of the order of sigma_n^2 / 500 per pixel, which the log sums pile up. An f32
/// re-implementation of piq's formulas moves the value by as much (up to 2.6e-4) as it differs
/// from labels.csv; the f64 value is the better-conditioned one.
const TOL_VIF_P: f64 = 5e-4;

/// The MS-SSIM window side the `ms_ssim` column was computed with.
const LABELS_MS_SSIM_KERNEL: usize = 7;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fr_metrics")
}

fn load(rel: &str) -> Planes {
    let path = data_dir().join(rel);
    let img = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Planes::from_rgb8(&img.to_rgb8())
}

/// One row of labels.csv: the decoded images and piq's values by column name.
struct Row {
    line: usize,
    dist_path: String,
    dist: Planes,
    reference: Planes,
    values: Vec<(String, f64)>,
}

impl Row {
    fn want(&self, column: &str) -> f64 {
        let found = self.values.iter().find(|(name, _)| name == column);
        found
            .unwrap_or_else(|| panic!("labels.csv has no column {column}"))
            .1
    }
}

/// All rows of labels.csv (a plain comma-separated file without quoting), decoded once.
fn rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let text = std::fs::read_to_string(data_dir().join("labels.csv")).expect("labels.csv");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().expect("header").split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
        let (path, ref_path) = (col("path"), col("ref_path"));
        lines
            .enumerate()
            .map(|(i, line)| {
                let fields: Vec<&str> = line.split(',').collect();
                let values = header
                    .iter()
                    .zip(&fields)
                    .filter_map(|(h, v)| Some((h.to_string(), v.parse::<f64>().ok()?)))
                    .collect();
                Row {
                    line: i + 2,
                    dist_path: fields[path].to_string(),
                    dist: load(fields[path]),
                    reference: load(fields[ref_path]),
                    values,
                }
            })
            .collect()
    })
}

/// Compares `metric(dist, ref)` with the piq column on every row; fails listing every row off
/// by more than `tol`, and reports the largest error either way.
fn check_against_piq(column: &str, tol: f64, metric: impl Fn(&Planes, &Planes) -> Result<f64, FrError>) {
    let rows = rows();
    assert_eq!(rows.len(), 50, "labels.csv should have 50 rows");
    let mut failures = Vec::new();
    let mut worst = 0.0f64;
    for row in rows {
        let want = row.want(column);
        let got = metric(&row.dist, &row.reference)
            .unwrap_or_else(|e| panic!("line {} ({}): {column}: {e}", row.line, row.dist_path));
        let err = (got - want).abs();
        worst = worst.max(err);
        if err > tol || err.is_nan() {
            failures.push(format!(
                "line {} ({}): {column} got {got:.7} want {want} (|diff| {err:.2e})",
                row.line, row.dist_path
            ));
        }
    }
    println!(
        "{column}: largest |diff| over {} rows: {worst:.2e} (tolerance {tol:.0e})",
        rows.len()
    );
    assert!(
        failures.is_empty(),
        "{} rows over {tol:.0e}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn psnr_matches_piq_on_all_50_pairs() {
    check_against_piq("psnr", TOL_PSNR, psnr);
}

#[test]
fn ms_ssim_with_a_7px_window_matches_piq_on_all_50_pairs() {
    check_against_piq("ms_ssim", TOL_MS_SSIM, |x, y| {
        ms_ssim(x, y, LABELS_MS_SSIM_KERNEL)
    });
}

#[test]
fn gmsd_matches_piq_on_all_50_pairs() {
    check_against_piq("gmsd", TOL_GMSD, gmsd);
}

#[test]
fn vif_p_matches_piq_on_all_50_pairs() {
    check_against_piq("vif_p", TOL_VIF_P, vif_p);
}

#[test]
fn all_fr_returns_the_individual_metrics() {
    let row = &rows()[7];
    let (x, y) = (&row.dist, &row.reference);
    let s = fr::all_fr(x, y);
    let t = fr::try_all_fr(x, y).expect("try_all_fr");
    // FSIM may be NaN here (NaN != NaN): its bits are compared below.
    assert_eq!(fr::FrScores { fsim: 0.0, ..t }, fr::FrScores { fsim: 0.0, ..s });
    assert_eq!(s.psnr, psnr(x, y).unwrap());
    assert_eq!(s.ssim, ssim(x, y).unwrap());
    assert_eq!(s.ms_ssim, ms_ssim(x, y, fr::ALL_FR_MS_SSIM_KERNEL).unwrap());
    assert_eq!(s.gmsd, gmsd(x, y).unwrap());
    assert_eq!(s.vif_p, vif_p(x, y).unwrap());
    assert_eq!(s.fsim.to_bits(), fr::fsim::fsim(x, y).to_bits());
    assert_eq!(t.fsim.to_bits(), s.fsim.to_bits());
}

// ---- Perfect values for identical images ----

#[test]
fn identical_images_get_each_metrics_perfect_value() {
    let y = &rows()[0].reference;
    let psnr_cap = -10.0 * fr::PSNR_EPS.log10();
    let cases: [(&str, f64, f64); 5] = [
        ("psnr", psnr(y, y).unwrap(), psnr_cap),
        ("ssim", ssim(y, y).unwrap(), 1.0),
        ("ms_ssim", ms_ssim(y, y, 7).unwrap(), 1.0),
        ("gmsd", gmsd(y, y).unwrap(), 0.0),
        ("vif_p", vif_p(y, y).unwrap(), 1.0),
    ];
    for (name, got, want) in cases {
        assert!((got - want).abs() < 1e-6, "{name}(y, y) = {got}, want {want}");
    }
    assert!(
        (psnr_cap - 80.0).abs() < 1e-12,
        "piq's EPS 1e-8 caps PSNR at 80 dB, got {psnr_cap}"
    );
}

// ---- SSIM by hand ----

/// A `channels x h x w` image with values from a fixed pseudo-random sequence in [lo, lo + span].
fn noise_image(channels: usize, h: usize, w: usize, seed: u64, lo: f64, span: f64) -> Planes {
    let mut p = Planes::zeros(channels, h, w);
    let mut s = seed;
    for v in &mut p.data {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *v = lo + span * ((s >> 11) as f64 / (1u64 << 53) as f64);
    }
    p
}

fn constant_image(channels: usize, h: usize, w: usize, v: f64) -> Planes {
    let mut p = Planes::zeros(channels, h, w);
    p.data.fill(v);
    p
}

const C1: f64 = 0.01 * 0.01;
const C2: f64 = 0.03 * 0.03;

#[test]
fn gaussian_window_matches_the_hand_computed_weights() {
    // Side 3, sigma 1.5: weights e, 1, e over 1 + 2e with e = exp(-1 / (2 * 1.5^2)).
    let e = (-1.0f64 / 4.5).exp();
    let want = [e / (1.0 + 2.0 * e), 1.0 / (1.0 + 2.0 * e), e / (1.0 + 2.0 * e)];
    let got = gaussian_window(3, 1.5);
    assert!(
        got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-15),
        "{got:?} vs {want:?}"
    );
    assert!((got[0] - 0.307_801_329_123_47).abs() < 1e-13, "{got:?}");
    // Side 11, sigma 1.5: the 2-D centre weight of the classic SSIM window is 0.0707622.
    let g = gaussian_window(11, 1.5);
    assert!((g[5] * g[5] - 0.070_762_2).abs() < 1e-7, "centre {}", g[5] * g[5]);
    assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    assert!(g.iter().zip(g.iter().rev()).all(|(a, b)| a == b), "symmetric");
}

#[test]
fn ssim_of_two_flat_images_is_the_luminance_term() {
    // Flat images: sigma = 0 everywhere, so cs = C2 / C2 = 1 and
    // SSIM = (2 a b + C1) / (a^2 + b^2 + C1).
    let (a, b) = (0.5, 0.6);
    let x = constant_image(3, 20, 24, a);
    let y = constant_image(3, 20, 24, b);
    let want = (2.0 * a * b + C1) / (a * a + b * b + C1);
    let got = ssim_with(&x, &y, &SsimParams::PIQ, true).unwrap();
    assert!((got.ssim - want).abs() < 1e-12, "ssim {} want {want}", got.ssim);
    assert!((got.cs - 1.0).abs() < 1e-12, "cs {}", got.cs);
}

/// SSIM of one grey plane by the textbook formula, with a direct 2-D window sum at every valid
/// position (independent of the library's separable filtering).
fn naive_ssim(x: &Planes, y: &Planes, size: usize) -> (f64, f64) {
    let g = gaussian_window(size, 1.5);
    let (oh, ow) = (x.height - size + 1, x.width - size + 1);
    let (mut sum_ssim, mut sum_cs) = (0.0, 0.0);
    for i in 0..oh {
        for j in 0..ow {
            let mut m = [0.0; 5];
            for a in 0..size {
                for b in 0..size {
                    let (u, v) = (x.at(0, i + a, j + b), y.at(0, i + a, j + b));
                    let wgt = g[a] * g[b];
                    for (acc, val) in m.iter_mut().zip([u, v, u * u, v * v, u * v]) {
                        *acc += wgt * val;
                    }
                }
            }
            let [mx, my, exx, eyy, exy] = m;
            let cs = (2.0 * (exy - mx * my) + C2) / (exx - mx * mx + eyy - my * my + C2);
            sum_ssim += (2.0 * mx * my + C1) / (mx * mx + my * my + C1) * cs;
            sum_cs += cs;
        }
    }
    let n = (oh * ow) as f64;
    (sum_ssim / n, sum_cs / n)
}

#[test]
fn ssim_equals_a_direct_2d_window_computation() {
    let x = noise_image(1, 23, 30, 1, 0.0, 1.0);
    let y = noise_image(1, 23, 30, 2, 0.2, 0.5);
    let got = ssim_with(&x, &y, &SsimParams::PIQ, true).unwrap();
    let (want_ssim, want_cs) = naive_ssim(&x, &y, 11);
    assert!(
        (got.ssim - want_ssim).abs() < 1e-12,
        "ssim {} want {want_ssim}",
        got.ssim
    );
    assert!((got.cs - want_cs).abs() < 1e-12, "cs {} want {want_cs}", got.cs);
}

#[test]
fn a_constant_shift_keeps_cs_at_one_and_lowers_ssim_only_through_luminance() {
    // x = y + d: every variance and covariance is unchanged, so cs = 1 exactly and SSIM is the
    // mean luminance term, 1 - d^2 / (mu_y^2 + (mu_y + d)^2 + C1) < 1.
    let y = noise_image(1, 30, 30, 3, 0.1, 0.6);
    let mut x = y.clone();
    x.data.iter_mut().for_each(|v| *v += 0.1);
    let got = ssim_with(&x, &y, &SsimParams::PIQ, true).unwrap();
    let (want_ssim, _) = naive_ssim(&x, &y, 11);
    assert!((got.cs - 1.0).abs() < 1e-9, "cs {}", got.cs);
    assert!(
        (got.ssim - want_ssim).abs() < 1e-12,
        "ssim {} want {want_ssim}",
        got.ssim
    );
    assert!(
        got.ssim < 0.99,
        "a shift of 0.1 must cost luminance similarity, got {}",
        got.ssim
    );
}

#[test]
fn ssim_averages_the_channels() {
    let x = noise_image(3, 16, 16, 4, 0.0, 1.0);
    let y = noise_image(3, 16, 16, 5, 0.0, 1.0);
    let one = |p: &Planes, c: usize| Planes {
        channels: 1,
        height: 16,
        width: 16,
        data: p.plane(c).to_vec(),
    };
    let mean: f64 = (0..3)
        .map(|c| ssim(&one(&x, c), &one(&y, c)).unwrap())
        .sum::<f64>()
        / 3.0;
    let got = ssim(&x, &y).unwrap();
    assert!((got - mean).abs() < 1e-14, "{got} vs channel mean {mean}");
}

// ---- MS-SSIM consistency ----

#[test]
fn ms_ssim_with_one_scale_is_ssim_without_pooling() {
    let row = &rows()[3];
    let p = SsimParams::PIQ.with_kernel_size(7);
    let one_scale = ms_ssim_with(&row.dist, &row.reference, &p, Some(&[1.0])).unwrap();
    // 256 px: piq's SSIM pre-pooling factor round(256 / 256) is 1, so downsample changes nothing.
    let plain = ssim_with(&row.dist, &row.reference, &p, true).unwrap().ssim;
    assert!(
        (one_scale - plain.max(0.0)).abs() < 1e-14,
        "{one_scale} vs {plain}"
    );
}

#[test]
fn ms_ssim_of_flat_images_is_the_luminance_term_to_the_last_weight() {
    // Flat images: cs = 1 at every scale, the last scale's SSIM is the luminance term l, so
    // MS-SSIM = l^0.1333.
    let (a, b) = (0.3, 0.45);
    let x = constant_image(3, 100, 97, a);
    let y = constant_image(3, 100, 97, b);
    let l = (2.0 * a * b + C1) / (a * a + b * b + C1);
    let want = l.powf(MS_SSIM_WEIGHTS[4]);
    let got = ms_ssim(&x, &y, 7).unwrap();
    assert!((got - want).abs() < 1e-12, "{got} want {want}");
}

#[test]
fn ms_ssim_normalises_custom_weights() {
    let row = &rows()[12];
    let p = SsimParams::PIQ.with_kernel_size(7);
    let w: Vec<f64> = MS_SSIM_WEIGHTS.iter().map(|v| v * 3.0).collect();
    let scaled = ms_ssim_with(&row.dist, &row.reference, &p, Some(&w)).unwrap();
    let sum: f64 = MS_SSIM_WEIGHTS.iter().sum();
    let unit: Vec<f64> = MS_SSIM_WEIGHTS.iter().map(|v| v / sum).collect();
    let normalised = ms_ssim_with(&row.dist, &row.reference, &p, Some(&unit)).unwrap();
    assert!((scaled - normalised).abs() < 1e-14, "{scaled} vs {normalised}");
}

// ---- VIF ----

#[test]
fn vif_p_exceeds_one_for_a_contrast_enhanced_distorted_image() {
    // Reference y = the photo at half contrast; distorted x = the photo, i.e. x = 2 y - 0.5 with no
    // clipping. Then g = 2 and sigma_v^2 = 0 in every textured window, so each term
    // log10(1 + 4 sigma_y^2 / 2) of the numerator exceeds log10(1 + sigma_y^2 / 2) of the
    // denominator (piq documents VIF > 1 for images of higher contrast than the reference).
    let x = &rows()[0].reference;
    let mut y = x.clone();
    y.data.iter_mut().for_each(|v| *v = 0.5 + 0.5 * (*v - 0.5));
    let v = vif_p(x, &y).unwrap();
    assert!(v > 1.2, "vif_p of a contrast-enhanced image = {v}");
    let back = vif_p(&y, x).unwrap();
    assert!(
        back < 1.0,
        "vif_p the other way round = {back} (VIF is not symmetric)"
    );
}

// ---- Errors ----

#[test]
fn a_size_mismatch_is_an_error_for_every_metric() {
    let x = constant_image(3, 128, 128, 0.5);
    let y = constant_image(3, 128, 120, 0.5);
    let results = [
        ("psnr", psnr(&x, &y)),
        ("ssim", ssim(&x, &y)),
        ("ms_ssim", ms_ssim(&x, &y, 7)),
        ("gmsd", gmsd(&x, &y)),
        ("vif_p", vif_p(&x, &y)),
        ("try_all_fr", fr::try_all_fr(&x, &y).map(|s| s.psnr)),
    ];
    for (name, r) in results {
        let want = FrError::SizeMismatch {
            metric: if name == "try_all_fr" { "psnr" } else { name },
            x: [3, 128, 128],
            y: [3, 128, 120],
        };
        assert_eq!(r, Err(want), "{name}");
    }
    let grey = constant_image(1, 128, 128, 0.5);
    assert!(
        matches!(psnr(&x, &grey), Err(FrError::SizeMismatch { .. })),
        "channel count"
    );
}

#[test]
fn all_fr_gives_nan_for_the_metrics_an_image_is_too_small_for() {
    // 64x64: PSNR, SSIM (11 px), GMSD and VIF (41 px) fit; MS-SSIM (97 px) does not.
    let x = noise_image(3, 64, 64, 8, 0.0, 1.0);
    let y = noise_image(3, 64, 64, 9, 0.0, 1.0);
    let s = fr::all_fr(&x, &y);
    assert!(
        s.ms_ssim.is_nan(),
        "ms_ssim on 64x64 should be NaN, got {}",
        s.ms_ssim
    );
    for (name, v) in [
        ("psnr", s.psnr),
        ("ssim", s.ssim),
        ("gmsd", s.gmsd),
        ("vif_p", s.vif_p),
    ] {
        assert!(v.is_finite(), "{name} on 64x64 should be computed, got {v}");
    }
    let other = noise_image(3, 64, 60, 9, 0.0, 1.0);
    let s = fr::all_fr(&x, &other);
    let all = [
        ("psnr", s.psnr),
        ("ssim", s.ssim),
        ("ms_ssim", s.ms_ssim),
        ("gmsd", s.gmsd),
        ("vif_p", s.vif_p),
    ];
    for (name, v) in all {
        assert!(v.is_nan(), "{name} of a size mismatch should be NaN, got {v}");
    }
}

#[test]
fn images_smaller_than_the_windows_are_errors() {
    let small = |h: usize, w: usize| constant_image(3, h, w, 0.5);
    let too_small =
        |r: Result<f64, FrError>, min: usize| matches!(r, Err(FrError::TooSmall { min: m, .. }) if m == min);
    assert!(too_small(ssim(&small(10, 40), &small(10, 40)), 11));
    assert!(too_small(ms_ssim(&small(96, 200), &small(96, 200), 7), 97));
    assert!(too_small(ms_ssim(&small(200, 160), &small(200, 160), 11), 161));
    assert!(too_small(vif_p(&small(40, 64), &small(40, 64)), 41));
    assert!(too_small(psnr(&small(0, 5), &small(0, 5)), 1));
    assert!(
        ms_ssim(&small(97, 97), &small(97, 97), 7).is_ok(),
        "97 px is enough for a 7-px window"
    );
    assert!(
        vif_p(&small(41, 41), &small(41, 41)).is_ok(),
        "41 px is enough for VIF"
    );
}

#[test]
fn invalid_parameters_and_malformed_images_are_errors() {
    let x = constant_image(3, 128, 128, 0.5);
    let even = SsimParams::PIQ.with_kernel_size(8);
    assert!(matches!(
        ssim_with(&x, &x, &even, true),
        Err(FrError::Invalid { .. })
    ));
    assert!(matches!(ms_ssim(&x, &x, 0), Err(FrError::Invalid { .. })));
    let p = SsimParams::PIQ.with_kernel_size(7);
    assert!(matches!(
        ms_ssim_with(&x, &x, &p, Some(&[])),
        Err(FrError::Invalid { .. })
    ));
    let two = constant_image(2, 128, 128, 0.5);
    assert!(
        matches!(gmsd(&two, &two), Err(FrError::Invalid { .. })),
        "gmsd takes 1 or 3 channels"
    );
    assert!(
        matches!(vif_p(&two, &two), Err(FrError::Invalid { .. })),
        "vif_p takes 1 or 3 channels"
    );
    let mut short = x.clone();
    short.data.pop();
    assert!(
        matches!(psnr(&short, &short), Err(FrError::Invalid { .. })),
        "data length"
    );
}

#[test]
fn error_messages_name_the_metric_and_sizes() {
    let x = constant_image(3, 64, 64, 0.5);
    let y = constant_image(3, 64, 65, 0.5);
    let msg = vif_p(&x, &y).unwrap_err().to_string();
    assert!(msg.contains("vif_p") && msg.contains("[3, 64, 65]"), "{msg}");
    let msg = ms_ssim(&x, &x, 7).unwrap_err().to_string();
    assert!(
        msg.contains("ms_ssim") && msg.contains("64x64") && msg.contains("97x97"),
        "{msg}"
    );
}

/// Delta E by hand: identical images differ by 0; black against white is exactly
/// L* 0 against L* 100 (a* = b* = 0 for both greys), so 100; sRGB red is
/// L* 53.24, a* 80.09, b* 67.20 (the textbook CIELAB of #FF0000, D65).
#[test]
fn delta_e_matches_hand_derived_cielab_values() {
    let flat = |v: [f64; 3]| {
        let mut p = Planes::zeros(3, 4, 5);
        for (c, value) in v.into_iter().enumerate() {
            p.plane_mut(c).fill(value);
        }
        p
    };
    let (black, white) = (flat([0.0; 3]), flat([1.0; 3]));
    assert_eq!(cprl::metrics::fr::delta_e(&white, &white).unwrap(), 0.0);
    let d = cprl::metrics::fr::delta_e(&black, &white).unwrap();
    assert!((d - 100.0).abs() < 1e-3, "black vs white: {d}");
    let red = cprl::metrics::fr::srgb_to_lab([1.0, 0.0, 0.0]);
    for (got, want) in red.iter().zip([53.24, 80.09, 67.20]) {
        assert!((got - want).abs() < 0.01, "red: {red:?}");
    }
    let e = cprl::metrics::fr::delta_e(&black, &Planes::zeros(1, 4, 5)).unwrap_err();
    assert!(e.to_string().contains("differ"), "{e}");
}

//! Separable Gaussian filtering without padding ('valid'), as piq's `F.conv2d(x, kernel)`.

use super::gray::Gray;

/// The 1-D factor of piq's `gaussian_filter(size, sigma)`:
/// `g[i] = exp(-(i - (size - 1) / 2)^2 / (2 sigma^2)) / sum_j g[j]`.
///
/// piq builds the 2-D window `G[i][j] = exp(-(c_i^2 + c_j^2) / (2 sigma^2))` and divides it by
/// its sum; that equals the outer product `g[i] g[j]` of this normalised 1-D window, so the
/// filtering here runs as a row pass and a column pass. Empty for `size == 0`.
pub fn gaussian_window(size: usize, sigma: f64) -> Vec<f64> {
    let centre = (size as f64 - 1.0) / 2.0;
    let g: Vec<f64> = (0..size)
        .map(|i| (-(i as f64 - centre).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = g.iter().sum();
    g.into_iter().map(|v| v / sum).collect()
}

/// `out = sum_t k[t] s(t)` for a symmetric window of odd length (`k[t] == k[n - 1 - t]`, as every
/// Gaussian window here), where `s(t)` are `n` slices at least as long as `out`. Mirrored taps
/// share one multiplication and two pairs are added per pass over `out`, which halves the
/// multiplications and the loads and stores of `out` against a tap-by-tap loop; the inner loops
/// vectorise.
fn symmetric_sum<'a>(k: &[f64], s: impl Fn(usize) -> &'a [f64], out: &mut [f64]) {
    let n = k.len();
    let c = n / 2;
    debug_assert!(
        n % 2 == 1 && (0..c).all(|t| k[t] == k[n - 1 - t]),
        "odd symmetric window"
    );
    for (o, &v) in out.iter_mut().zip(s(c)) {
        *o = k[c] * v;
    }
    let mut t = 0;
    while t + 2 <= c {
        let (ka, kb) = (k[t], k[t + 1]);
        let pairs = s(t)
            .iter()
            .zip(s(n - 1 - t))
            .zip(s(t + 1).iter().zip(s(n - 2 - t)));
        for (o, ((a0, a1), (b0, b1))) in out.iter_mut().zip(pairs) {
            *o += ka * (a0 + a1) + kb * (b0 + b1);
        }
        t += 2;
    }
    if t < c {
        for (o, (a0, a1)) in out.iter_mut().zip(s(t).iter().zip(s(n - 1 - t))) {
            *o += k[t] * (a0 + a1);
        }
    }
}

/// `out[j] = sum_t k[t] src[j + t]` for every `j` where the window fits ('valid').
fn correlate_row(src: &[f64], k: &[f64], out: &mut [f64]) {
    let m = out.len();
    symmetric_sum(k, |t| &src[t..t + m], out);
}

/// Column pass: `out` row `i` = `sum_t k[t]` (row `i + t` of `tmp`), rows of width `w`.
fn correlate_columns(tmp: &[f64], w: usize, k: &[f64], out: &mut [f64]) {
    for (i, orow) in out.chunks_exact_mut(w).enumerate() {
        symmetric_sum(k, |t| &tmp[(i + t) * w..(i + t + 1) * w], orow);
    }
}

/// Output size of a 'valid' filtering with a window of side `k` (the caller checks `k <= n`).
fn valid_len(n: usize, k: usize) -> usize {
    n + 1 - k
}

/// `src` filtered by the separable window `k (x) k` without padding: the output is
/// `(h - k + 1) x (w - k + 1)` (piq's `F.conv2d(x, kernel)`; the window is symmetric, so
/// correlation and convolution agree). The caller checks that `k` fits.
pub(crate) fn filter_valid(src: &Gray, k: &[f64]) -> Gray {
    let (oh, ow) = (valid_len(src.h, k.len()), valid_len(src.w, k.len()));
    let mut tmp = vec![0.0; src.h * ow];
    for (i, trow) in tmp.chunks_exact_mut(ow).enumerate() {
        correlate_row(src.row(i), k, trow);
    }
    let mut data = vec![0.0; oh * ow];
    correlate_columns(&tmp, ow, k, &mut data);
    Gray { h: oh, w: ow, data }
}

/// One output row of the local (window-weighted) first and second moments of two planes:
/// `mu_x = k * x`, `mu_y = k * y`, `xx = k * x^2`, `yy = k * y^2`, `xy = k * (x y)`, all 'valid'.
/// These are the five filterings SSIM and VIF both start from.
pub(crate) struct MomentRow<'a> {
    pub mu_x: &'a [f64],
    pub mu_y: &'a [f64],
    pub xx: &'a [f64],
    pub yy: &'a [f64],
    pub xy: &'a [f64],
}

impl MomentRow<'_> {
    /// The per-position statistics `(mu_x, mu_y, sigma_x^2, sigma_y^2, sigma_xy)` with
    /// `sigma_x^2 = E[x^2] - mu_x^2` and so on, exactly as piq forms them (no clamping here).
    pub fn stats(&self) -> impl Iterator<Item = [f64; 5]> + '_ {
        (0..self.mu_x.len()).map(|i| {
            let (mx, my) = (self.mu_x[i], self.mu_y[i]);
            [
                mx,
                my,
                self.xx[i] - mx * mx,
                self.yy[i] - my * my,
                self.xy[i] - mx * my,
            ]
        })
    }
}

/// Calls `f` with every output row, top to bottom, of the five moment maps of `x` and `y` (same
/// size, `k` fits). The row pass results live in a ring of `k.len()` rows per map and the
/// squares and products are formed a row at a time, so nothing image-sized is stored and the
/// working set stays in cache.
pub(crate) fn for_each_moment_row(x: &Gray, y: &Gray, k: &[f64], mut f: impl FnMut(MomentRow<'_>)) {
    let n = k.len();
    let ow = valid_len(x.w, n);
    // ring[m][slot * ow..]: row-pass output of map m for image row `slot (mod n)`.
    let mut ring: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; n * ow]);
    let mut out: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; ow]);
    let mut prod = vec![0.0; x.w];
    for r in 0..x.h {
        let slot = (r % n) * ow..(r % n + 1) * ow;
        row_pass(x.row(r), y.row(r), k, &mut prod, &mut ring, slot);
        if r + 1 < n {
            continue;
        }
        let top = r + 1 - n;
        for (o, map) in out.iter_mut().zip(&ring) {
            symmetric_sum(k, |t| &map[((top + t) % n) * ow..((top + t) % n + 1) * ow], o);
        }
        let [mu_x, mu_y, xx, yy, xy] = &out;
        f(MomentRow {
            mu_x,
            mu_y,
            xx,
            yy,
            xy,
        });
    }
}

/// The row pass of the five maps for one image row, into `slot` of each ring buffer.
fn row_pass(
    xr: &[f64],
    yr: &[f64],
    k: &[f64],
    prod: &mut [f64],
    ring: &mut [Vec<f64>; 5],
    slot: std::ops::Range<usize>,
) {
    correlate_row(xr, k, &mut ring[0][slot.clone()]);
    correlate_row(yr, k, &mut ring[1][slot.clone()]);
    fill_product(prod, xr, xr);
    correlate_row(prod, k, &mut ring[2][slot.clone()]);
    fill_product(prod, yr, yr);
    correlate_row(prod, k, &mut ring[3][slot.clone()]);
    fill_product(prod, xr, yr);
    correlate_row(prod, k, &mut ring[4][slot]);
}

/// `out[j] = a[j] b[j]`.
fn fill_product(out: &mut [f64], a: &[f64], b: &[f64]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a * b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_valid_matches_a_direct_2d_sum() {
        let (h, w) = (9, 12);
        let src = Gray {
            h,
            w,
            data: (0..h * w).map(|v| ((v * 7919) % 101) as f64 / 100.0).collect(),
        };
        let k = gaussian_window(5, 1.5);
        let out = filter_valid(&src, &k);
        assert_eq!((out.h, out.w), (5, 8));
        for i in 0..out.h {
            for j in 0..out.w {
                let mut want = 0.0;
                for a in 0..5 {
                    for b in 0..5 {
                        want += k[a] * k[b] * src.data[(i + a) * w + j + b];
                    }
                }
                let got = out.data[i * out.w + j];
                assert!((got - want).abs() < 1e-14, "({i}, {j}): {got} vs {want}");
            }
        }
    }

    #[test]
    fn moment_rows_equal_whole_image_filterings_of_the_products() {
        let (h, w) = (14, 11);
        let make = |seed: usize| Gray {
            h,
            w,
            data: (0..h * w)
                .map(|v| ((v * 7919 + seed) % 101) as f64 / 100.0)
                .collect(),
        };
        let (x, y) = (make(3), make(50));
        let k = gaussian_window(7, 1.5);
        let product = |a: &Gray, b: &Gray| Gray {
            h,
            w,
            data: a.data.iter().zip(&b.data).map(|(u, v)| u * v).collect(),
        };
        let want =
            [&x, &y, &product(&x, &x), &product(&y, &y), &product(&x, &y)].map(|g| filter_valid(g, &k));
        let mut rows = 0;
        for_each_moment_row(&x, &y, &k, |row| {
            for (m, got) in [row.mu_x, row.mu_y, row.xx, row.yy, row.xy].iter().enumerate() {
                let expect = want[m].row(rows);
                assert!(
                    got.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-14),
                    "map {m} row {rows}"
                );
            }
            rows += 1;
        });
        assert_eq!(rows, want[0].h);
    }
}

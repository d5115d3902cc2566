//! One image plane (a channel or the luminance) and the resampling steps piq applies to it.

use super::image::Planes;

/// piq's luminance weights (`rgb2yiq`'s first row, also written out in `vif_p`).
const LUMA: [f64; 3] = [0.299, 0.587, 0.114];

/// One plane of f64 values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Gray {
    pub h: usize,
    pub w: usize,
    pub data: Vec<f64>,
}

impl Gray {
    /// Channel `c` of `p`.
    pub fn channel(p: &Planes, c: usize) -> Gray {
        Gray {
            h: p.height,
            w: p.width,
            data: p.plane(c).to_vec(),
        }
    }

    /// The luminance `Y = 0.299 R + 0.587 G + 0.114 B` of an RGB image (piq's `rgb2yiq(x)[:, :1]`),
    /// or the only channel of a grey one. The caller has checked `channels` is 1 or 3.
    pub fn luminance(p: &Planes) -> Gray {
        if p.channels == 1 {
            return Gray::channel(p, 0);
        }
        let (r, g, b) = (p.plane(0), p.plane(1), p.plane(2));
        let data = r
            .iter()
            .zip(g)
            .zip(b)
            .map(|((r, g), b)| LUMA[0] * r + LUMA[1] * g + LUMA[2] * b)
            .collect();
        Gray {
            h: p.height,
            w: p.width,
            data,
        }
    }

    /// Every value multiplied by `s`.
    pub fn scaled(mut self, s: f64) -> Gray {
        self.data.iter_mut().for_each(|v| *v *= s);
        self
    }

    /// The row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.w..(i + 1) * self.w]
    }

    /// Mean of `f x f` blocks with stride `f`, dropping incomplete blocks at the bottom and
    /// right (`F.avg_pool2d(x, kernel_size=f)`, whose output size rounds down).
    pub fn avg_pool(&self, f: usize) -> Gray {
        let (h, w) = (self.h / f, self.w / f);
        let scale = 1.0 / (f * f) as f64;
        let mut data = vec![0.0; h * w];
        for (i, out) in data.chunks_exact_mut(w.max(1)).take(h).enumerate() {
            for di in 0..f {
                let src = self.row(i * f + di);
                for (j, o) in out.iter_mut().enumerate() {
                    *o += src[j * f..(j + 1) * f].iter().sum::<f64>();
                }
            }
            out.iter_mut().for_each(|o| *o *= scale);
        }
        Gray { h, w, data }
    }

    /// `p` rows and columns added at the top and left, copies of the first row and column
    /// (`F.pad(x, [p, 0, p, 0], mode='replicate')`, MS-SSIM's step before pooling).
    pub fn pad_replicate_top_left(&self, p: usize) -> Gray {
        let (h, w) = (self.h + p, self.w + p);
        let mut data = Vec::with_capacity(h * w);
        for i in 0..h {
            let src = self.row(i.saturating_sub(p));
            data.extend(std::iter::repeat_n(src[0], p));
            data.extend_from_slice(src);
        }
        Gray { h, w, data }
    }

    /// `p` rows and columns of zeros added at the bottom and right
    /// (`F.pad(x, [0, p, 0, p])`, GMSD's step before pooling).
    pub fn pad_zero_bottom_right(&self, p: usize) -> Gray {
        let (h, w) = (self.h + p, self.w + p);
        let mut data = vec![0.0; h * w];
        for i in 0..self.h {
            data[i * w..i * w + self.w].copy_from_slice(self.row(i));
        }
        Gray { h, w, data }
    }

    /// Every second row and column starting at the first (`x[:, :, ::2, ::2]`).
    pub fn subsample2(&self) -> Gray {
        let (h, w) = (self.h.div_ceil(2), self.w.div_ceil(2));
        let mut data = Vec::with_capacity(h * w);
        for i in 0..h {
            data.extend(self.row(2 * i).iter().step_by(2));
        }
        Gray { h, w, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(h: usize, w: usize) -> Gray {
        Gray {
            h,
            w,
            data: (0..h * w).map(|v| v as f64).collect(),
        }
    }

    #[test]
    fn avg_pool_drops_the_incomplete_last_block() {
        let p = gray(3, 5).avg_pool(2);
        assert_eq!((p.h, p.w), (1, 2));
        assert_eq!(p.data, vec![(0. + 1. + 5. + 6.) / 4., (2. + 3. + 7. + 8.) / 4.]);
    }

    #[test]
    fn replicate_pad_copies_the_first_row_and_column() {
        let p = gray(2, 2).pad_replicate_top_left(1);
        assert_eq!(p.data, vec![0., 0., 1., 0., 0., 1., 2., 2., 3.]);
    }

    #[test]
    fn zero_pad_adds_zeros_at_the_bottom_and_right() {
        let p = gray(2, 2).pad_zero_bottom_right(1);
        assert_eq!(p.data, vec![0., 1., 0., 2., 3., 0., 0., 0., 0.]);
    }

    #[test]
    fn subsample2_keeps_even_rows_and_columns() {
        let p = gray(3, 3).subsample2();
        assert_eq!(p.data, vec![0., 2., 6., 8.]);
    }
}

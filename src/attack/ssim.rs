//! SSIM on the device and on the tape, for the perceptual attack's fidelity term: the
//! same SSIM as [`crate::metrics::fr::ssim`] (piq's: 11x11 Gaussian window of sigma
//! 1.5 without padding, each RGB channel on its own, K1 0.01, K2 0.03, data range 1),
//! for images below 384 pixels per side, where piq does not downsample. The tests hold
//! it to that f64 implementation.
//!
//! The five local moments come from one depthwise convolution of the stacked planes
//! x, y, x^2, y^2, xy, so the whole SSIM is one convolution and a few elementwise
//! kernels forward, and their backward.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::metrics::fr::SsimParams;
use crate::metrics::fr::filter::gaussian_window;
use crate::ops::conv2d::Conv2dParams;
use crate::tensor::Tensor;

/// Images with a side this long or longer are downsampled by piq's SSIM first, which
/// this one does not do.
pub const MAX_SIDE: usize = 384;

/// The SSIM of one channel count, its Gaussian window uploaded once (an attack takes
/// SSIM's gradient at every step).
pub struct Ssim {
    channels: usize,
    /// The depthwise weights `[5 C, 1, k, k]`: the 2-D window once per stacked plane.
    window: Tensor,
}

impl Ssim {
    pub fn new(gpu: &Arc<Gpu>, channels: usize) -> Result<Ssim> {
        let p = SsimParams::PIQ;
        let g = gaussian_window(p.kernel_size, p.kernel_sigma);
        let one: Vec<f32> = g
            .iter()
            .flat_map(|a| g.iter().map(move |b| (a * b) as f32))
            .collect();
        let groups = 5 * channels;
        let all: Vec<f32> = (0..groups).flat_map(|_| one.iter().copied()).collect();
        let window = Tensor::from_slice(gpu, &all, &[groups, 1, p.kernel_size, p.kernel_size])?;
        Ok(Ssim { channels, window })
    }

    /// The SSIM of each image of `y` against the same image of `x` (both
    /// `[B, C, H, W]` in [0, 1], C as built), as a `[B]` tensor recorded on the tape.
    pub fn of(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        y.expect_shape("ssim", x.shape())?;
        let &[_, c, h, w] = x.shape() else {
            return Err(Error::shape(
                "ssim",
                format!("[B, C, H, W] images, got {:?}", x.shape()),
            ));
        };
        if c != self.channels {
            return Err(Error::shape(
                "ssim",
                format!("{c} channels, built for {}", self.channels),
            ));
        }
        let p = SsimParams::PIQ;
        if h < p.kernel_size || w < p.kernel_size || h >= MAX_SIDE || w >= MAX_SIDE {
            return Err(Error::Invalid(format!(
                "ssim: images {h}x{w}; the device SSIM takes sides from {} to {}",
                p.kernel_size,
                MAX_SIDE - 1
            )));
        }
        let stacked = Tensor::concat(&[x, y, &x.mul(x)?, &y.mul(y)?, &x.mul(y)?], 1)?;
        let m = stacked.conv2d(&self.window, None, &Conv2dParams::new(1, 0).groups(5 * c))?;
        let part = |k: usize| m.slice(1, k * c, c);
        let (mx, my, exx, eyy, exy) = (part(0)?, part(1)?, part(2)?, part(3)?, part(4)?);
        let (c1, c2) = ((p.k1 * p.k1) as f32, (p.k2 * p.k2) as f32);
        let mxy = mx.mul(&my)?;
        let (mxx, myy) = (mx.square()?, my.square()?);
        // sigma_xy = E[xy] - mu_x mu_y and the variances likewise.
        let cs_num = exy.sub(&mxy)?.affine(2.0, c2)?;
        let cs_den = exx.sub(&mxx)?.add(&eyy.sub(&myy)?)?.affine(1.0, c2)?;
        let l_num = mxy.affine(2.0, c1)?;
        let l_den = mxx.add(&myy)?.affine(1.0, c1)?;
        let map = l_num.mul(&cs_num)?.div(&l_den.mul(&cs_den)?)?;
        map.mean_axes(&[1, 2, 3], false)
    }
}

/// [`Ssim::of`] with a window built for this call.
pub fn ssim(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let c = x.shape().get(1).copied().unwrap_or(0);
    Ssim::new(x.gpu(), c)?.of(x, y)
}

//! The image type the full-reference metrics work on: planar f64, values in [0, 1].

/// A planar image in f64 with values in [0, 1], stored as `[channel][row][column]`.
///
/// The full-reference metrics take RGB images (`channels == 3`) and convert them to
/// the colour space each metric uses (luminance, YIQ) themselves, as piq does.
#[derive(Clone, Debug, PartialEq)]
pub struct Planes {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// `channels * height * width` values, plane after plane, rows top to bottom.
    pub data: Vec<f64>,
}

impl Planes {
    /// A zero image of the given size.
    pub fn zeros(channels: usize, height: usize, width: usize) -> Planes {
        Planes {
            channels,
            height,
            width,
            data: vec![0.0; channels * height * width],
        }
    }

    /// An 8-bit RGB image scaled to [0, 1] (`v / 255`).
    pub fn from_rgb8(img: &image::RgbImage) -> Planes {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut p = Planes::zeros(3, h, w);
        for (x, y, px) in img.enumerate_pixels() {
            for c in 0..3 {
                p.data[(c * h + y as usize) * w + x as usize] = px[c] as f64 / 255.0;
            }
        }
        p
    }

    /// Interleaved `[row][column][channel]` values (as decoders give them).
    pub fn from_interleaved(data: &[f32], channels: usize, height: usize, width: usize) -> Planes {
        assert_eq!(data.len(), channels * height * width, "from_interleaved: size");
        let mut p = Planes::zeros(channels, height, width);
        for i in 0..height * width {
            for c in 0..channels {
                p.data[c * height * width + i] = data[i * channels + c] as f64;
            }
        }
        p
    }

    /// Values of one channel, row-major.
    pub fn plane(&self, c: usize) -> &[f64] {
        let n = self.height * self.width;
        &self.data[c * n..(c + 1) * n]
    }

    /// Mutable values of one channel, row-major.
    pub fn plane_mut(&mut self, c: usize) -> &mut [f64] {
        let n = self.height * self.width;
        &mut self.data[c * n..(c + 1) * n]
    }

    /// The value at channel `c`, row `y`, column `x`.
    pub fn at(&self, c: usize, y: usize, x: usize) -> f64 {
        self.data[(c * self.height + y) * self.width + x]
    }

    /// A 64-bit fingerprint of the size and every value (bit-exact), with which metrics
    /// recognise a reference they saw on the previous call and reuse its features:
    /// labelling 125 distortions of one reference then analyses the reference once.
    /// Two different images share a fingerprint with probability about 2^-64.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0x243F_6A88_85A3_08D3;
        let mut mix = |v: u64| {
            h = (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        };
        for d in [self.channels, self.height, self.width] {
            mix(d as u64);
        }
        for v in &self.data {
            mix(v.to_bits());
        }
        h ^ (h >> 31)
    }
}

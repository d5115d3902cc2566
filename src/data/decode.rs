//! Image decoding with memory limits: a huge or hostile file gives an error that names
//! it instead of exhausting memory.

use std::path::Path;

use image::{ImageReader, RgbImage};

use super::error::{DataError, DataResult};

/// The most a single decode may take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeLimits {
    /// Largest width or height accepted, in pixels.
    pub max_side: u32,
    /// Largest allocation the decoder may make, in bytes.
    pub max_bytes: u64,
}

impl Default for DecodeLimits {
    /// 16384 px per side and 1 GiB: every IQA dataset's images fit (SPAQ's largest
    /// are about 4000 x 4000), a decompression bomb does not.
    fn default() -> Self {
        DecodeLimits {
            max_side: 16384,
            max_bytes: 1 << 30,
        }
    }
}

/// Decodes any format the `image` crate reads here (PNG, JPEG; chosen by content, not
/// by extension) to 8-bit RGB. Grey images are replicated over RGB, an alpha channel is
/// dropped, 16-bit samples are rounded to 8 bits.
pub fn decode_rgb(path: &Path, limits: DecodeLimits) -> DataResult<RgbImage> {
    let bad = |why: String| DataError::Image {
        path: path.to_path_buf(),
        why,
    };
    let reader = ImageReader::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = reader
        .with_guessed_format()
        .map_err(|e| bad(format!("cannot read the header: {e}")))?;
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_bytes);
    reader.limits(l);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => bad(format!(
            "larger than the decode limits ({} px per side, {} MiB): {e}",
            limits.max_side,
            limits.max_bytes >> 20
        )),
        _ => bad(format!("cannot decode: {e}")),
    })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(bad("the image is empty (0 pixels)".into()));
    }
    Ok(img.to_rgb8())
}

//! The reference photos built into the binary (`assets/refs/`, attribution in its
//! README.md), so that `cprl data synth` needs no download and no file beside the
//! program. 25 photos, 768 px on the long side, JPEG quality 95: 2.9 MB.

use std::path::Path;

use image::RgbImage;

use crate::data::error::{DataError, DataResult};

/// The attribution that must travel with the photos and any set made from them.
pub const ATTRIBUTION: &str = include_str!("../../../assets/refs/README.md");

/// (file name, JPEG bytes) of every built-in reference photo.
pub const BUILTIN: &[(&str, &[u8])] = &[
    (
        "lomiri_Bridge_by_Sander_Klootwijk.jpg",
        include_bytes!("../../../assets/refs/lomiri_Bridge_by_Sander_Klootwijk.jpg"),
    ),
    (
        "lomiri_Dragonfly_by_Bolly.jpg",
        include_bytes!("../../../assets/refs/lomiri_Dragonfly_by_Bolly.jpg"),
    ),
    (
        "lomiri_Picture_0B_by_freespace.jpg",
        include_bytes!("../../../assets/refs/lomiri_Picture_0B_by_freespace.jpg"),
    ),
    (
        "lomiri_Picture_1A_by_freespace.jpg",
        include_bytes!("../../../assets/refs/lomiri_Picture_1A_by_freespace.jpg"),
    ),
    (
        "lomiri_Wine_by_Jakkub_Mede.jpg",
        include_bytes!("../../../assets/refs/lomiri_Wine_by_Jakkub_Mede.jpg"),
    ),
    (
        "lomiri_aitzgorri_by_Aitzol_Berasategi.jpg",
        include_bytes!("../../../assets/refs/lomiri_aitzgorri_by_Aitzol_Berasategi.jpg"),
    ),
    (
        "lomiri_free_by_Peter_Nerlich.jpg",
        include_bytes!("../../../assets/refs/lomiri_free_by_Peter_Nerlich.jpg"),
    ),
    (
        "lomiri_friends_by_Aitzol_Berasategi.jpg",
        include_bytes!("../../../assets/refs/lomiri_friends_by_Aitzol_Berasategi.jpg"),
    ),
    (
        "lomiri_greentock_by_Peter_Nerlich.jpg",
        include_bytes!("../../../assets/refs/lomiri_greentock_by_Peter_Nerlich.jpg"),
    ),
    (
        "lomiri_life_by_Aitzol_Berasategi.jpg",
        include_bytes!("../../../assets/refs/lomiri_life_by_Aitzol_Berasategi.jpg"),
    ),
    (
        "lomiri_picosdeeuropa_by_Aitzol_Berasategi.jpg",
        include_bytes!("../../../assets/refs/lomiri_picosdeeuropa_by_Aitzol_Berasategi.jpg"),
    ),
    (
        "lomiri_seeding_by_Clements_Engelhardt.jpg",
        include_bytes!("../../../assets/refs/lomiri_seeding_by_Clements_Engelhardt.jpg"),
    ),
    (
        "lomiri_sunset_by_Aitzol_Berasategi.jpg",
        include_bytes!("../../../assets/refs/lomiri_sunset_by_Aitzol_Berasategi.jpg"),
    ),
    (
        "mate_Aqua.jpg",
        include_bytes!("../../../assets/refs/mate_Aqua.jpg"),
    ),
    (
        "mate_Blinds.jpg",
        include_bytes!("../../../assets/refs/mate_Blinds.jpg"),
    ),
    (
        "mate_Dune.jpg",
        include_bytes!("../../../assets/refs/mate_Dune.jpg"),
    ),
    (
        "mate_FreshFlower.jpg",
        include_bytes!("../../../assets/refs/mate_FreshFlower.jpg"),
    ),
    (
        "mate_Garden.jpg",
        include_bytes!("../../../assets/refs/mate_Garden.jpg"),
    ),
    (
        "mate_GreenMeadow.jpg",
        include_bytes!("../../../assets/refs/mate_GreenMeadow.jpg"),
    ),
    (
        "mate_LadyBird.jpg",
        include_bytes!("../../../assets/refs/mate_LadyBird.jpg"),
    ),
    (
        "mate_RainDrops.jpg",
        include_bytes!("../../../assets/refs/mate_RainDrops.jpg"),
    ),
    (
        "mate_Storm.jpg",
        include_bytes!("../../../assets/refs/mate_Storm.jpg"),
    ),
    (
        "mate_TwoWings.jpg",
        include_bytes!("../../../assets/refs/mate_TwoWings.jpg"),
    ),
    (
        "mate_Wood.jpg",
        include_bytes!("../../../assets/refs/mate_Wood.jpg"),
    ),
    (
        "mate_YellowFlower.jpg",
        include_bytes!("../../../assets/refs/mate_YellowFlower.jpg"),
    ),
];

/// A named reference photo.
pub struct RefPhoto {
    /// Stem of the file name (`mate_Aqua`), used in the set's file names.
    pub name: String,
    pub image: RgbImage,
}

/// Decodes the built-in photos.
pub fn builtin() -> DataResult<Vec<RefPhoto>> {
    BUILTIN
        .iter()
        .map(|(file, bytes)| {
            let image = image::load_from_memory(bytes)
                .map_err(|e| DataError::Invalid(format!("built-in photo {file}: {e}")))?
                .to_rgb8();
            Ok(RefPhoto {
                name: stem(Path::new(file)),
                image,
            })
        })
        .collect()
}

/// Reads every PNG or JPEG of a folder (sorted by name, so the set does not depend on
/// the order the file system lists them in).
pub fn from_dir(dir: &Path, limits: crate::data::DecodeLimits) -> DataResult<Vec<RefPhoto>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
            matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataError::Empty {
            file: dir.to_path_buf(),
            why: "no PNG or JPEG reference photo in this folder".into(),
        });
    }
    files
        .iter()
        .map(|p| {
            Ok(RefPhoto {
                name: stem(p),
                image: crate::data::decode_rgb(p, limits)?,
            })
        })
        .collect()
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

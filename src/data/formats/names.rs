//! Distortion type and level read from image names, only where a dataset's naming
//! makes them certain. A name that does not follow its dataset's pattern gives
//! `None`, never a guess.
//!
//! Level 1 is the mildest in every set here: in pyiqa's meta-info files (IQA-PyTorch
//! commit f5bbd49^, `pyiqa/data/meta_info/`) the mean score falls with the level
//! digit for all of them — TID2013 MOS 5.52, 5.22, 4.58, 3.97, 3.09 for levels 1-5;
//! KADID-10k 4.08, 3.52, 3.06, 2.50, 2.01; CSIQ DMOS (lower = better) rises 0.047,
//! 0.170, 0.356, 0.534, 0.711.

use std::path::Path;

use crate::data::Sample;

/// Distortion type and level parsed from a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Reference stem as the name spells it (`I01`, `i01`, `1600`).
    pub reference: String,
    pub distortion: String,
    pub level: Option<u32>,
}

fn file_stem(name: &str) -> &str {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.rsplit_once('.').map_or(base, |(stem, _)| stem)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// KADID-10k `I01_02_03.png` and TID2013 `i01_02_3.bmp`: reference `I01`,
/// distortion type `02` (kept as written), level 3. KADID-10k names its images
/// `I<ref>_<type>_<level>` with two digits each (dmos.csv, e.g. `I01_01_01.png`);
/// TID2013 `i<ref>_<type>_<level>` with a one-digit level (`mos_with_names.txt`,
/// e.g. `i01_01_1.bmp`; some files on disk start with `I`).
pub(crate) fn ref_type_level(name: &str) -> Option<Parsed> {
    let parts: Vec<&str> = file_stem(name).split('_').collect();
    let [r, t, l] = parts.as_slice() else { return None };
    let (first, num) = r.split_at(r.len().min(1));
    if !first.eq_ignore_ascii_case("i") || !digits(num) || !digits(t) || !digits(l) {
        return None;
    }
    Some(Parsed {
        reference: r.to_string(),
        distortion: t.to_string(),
        level: Some(l.parse().ok()?),
    })
}

/// CSIQ `1600.AWGN.1.png`: reference `1600`, distortion `AWGN`, level 1, the
/// naming of pyiqa's CSIQ meta file (`<ref>.<type>.<level>.png`, with types AWGN,
/// BLUR, contrast, fnoise, JPEG, jpeg2000).
pub(crate) fn csiq(name: &str) -> Option<Parsed> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let parts: Vec<&str> = base.split('.').collect();
    let [r, t, l, _ext] = parts.as_slice() else {
        return None;
    };
    if r.is_empty() || t.is_empty() || !digits(l) {
        return None;
    }
    Some(Parsed {
        reference: r.to_string(),
        distortion: t.to_string(),
        level: Some(l.parse().ok()?),
    })
}

/// LIVE release 2 `jp2k/img2.bmp`: the folder is the distortion (jp2k, jpeg, wn,
/// gblur, fastfading: the five folders of pyiqa's `scripts/process_live.py`); LIVE
/// has no level.
pub(crate) fn live_folder(name: &str) -> Option<String> {
    let folder = Path::new(name).parent()?.file_name()?.to_str()?;
    const FOLDERS: [&str; 5] = ["jp2k", "jpeg", "wn", "gblur", "fastfading"];
    FOLDERS.contains(&folder).then(|| folder.to_string())
}

/// The parse of `name`, kept only when its reference agrees with the label file's
/// reference column (compared by file stem, any case).
pub(crate) fn agreeing(parsed: Option<Parsed>, reference: &str) -> Option<Parsed> {
    parsed.filter(|p| p.reference.eq_ignore_ascii_case(file_stem(reference)))
}

/// Sets distortion and level from `parse(path)` when the parse's reference agrees
/// with the sample's.
pub(crate) fn annotate(samples: &mut [Sample], parse: fn(&str) -> Option<Parsed>) {
    for s in samples {
        let name = s.path.to_string_lossy();
        let reference = s.reference.as_deref().unwrap_or_default();
        if let Some(p) = agreeing(parse(&name), reference) {
            s.distortion = Some(p.distortion);
            s.level = p.level;
        }
    }
}

/// TID2013's reference image for a distorted name, as pyiqa's
/// `scripts/process_tid.py` spells it: `I<nn>.BMP`, except `i25.bmp`.
pub(crate) fn tid_reference(parsed: &Parsed) -> String {
    let num = &parsed.reference[1..];
    if num == "25" {
        "i25.bmp".into()
    } else {
        format!("I{num}.BMP")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kadid_and_tid_names() {
        let k = ref_type_level("I01_02_03.png").unwrap();
        assert_eq!(
            (k.reference.as_str(), k.distortion.as_str(), k.level),
            ("I01", "02", Some(3))
        );
        let t = ref_type_level("i25_24_5.bmp").unwrap();
        assert_eq!(tid_reference(&t), "i25.bmp");
        assert_eq!(tid_reference(&ref_type_level("i07_01_1.bmp").unwrap()), "I07.BMP");
        assert!(ref_type_level("I01.png").is_none());
        assert!(ref_type_level("X01_02_03.png").is_none());
        assert!(ref_type_level("I01_xx_03.png").is_none());
    }

    #[test]
    fn csiq_and_live_names() {
        let c = csiq("1600.AWGN.1.png").unwrap();
        assert_eq!((c.distortion.as_str(), c.level), ("AWGN", Some(1)));
        assert!(agreeing(Some(c.clone()), "1600.png").is_some());
        assert!(agreeing(Some(c), "1601.png").is_none());
        assert!(csiq("1600.png").is_none());
        assert_eq!(live_folder("jp2k/img2.bmp").as_deref(), Some("jp2k"));
        assert_eq!(live_folder("refimgs/x.bmp"), None);
    }
}

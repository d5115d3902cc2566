//! SROCC within each distortion type.

use std::collections::BTreeMap;

use super::Prediction;
use crate::metrics::correlation::srocc;

/// `(distortion, images, SROCC)` for each distortion type, sorted by name.
///
/// The SROCC is computed within the type only, so it asks "does the model order the
/// levels of this distortion right", which the overall SROCC can hide behind the
/// easy between-type differences. NaN where SROCC is undefined (fewer than two
/// images, constant scores or MOS, a non-finite value). Images without a distortion
/// label are left out: pristine images are not a distortion type.
pub fn per_distortion_srocc(preds: &[Prediction]) -> Vec<(String, usize, f64)> {
    let mut groups: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for p in preds {
        if let Some(d) = &p.distortion {
            let (scores, mos) = groups.entry(d.as_str()).or_default();
            scores.push(p.score);
            mos.push(p.mos);
        }
    }
    groups
        .into_iter()
        .map(|(name, (scores, mos))| (name.to_string(), scores.len(), srocc(&scores, &mos)))
        .collect()
}

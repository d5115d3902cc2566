//! Why a CPRL model scored an image as it did: which channels its CPR gate let
//! through, where in the image those channels fire, and whether an attack changes
//! the set (`cprl explain`).
//!
//! An image is cut into the evaluation grid of crops exactly as `cprl score` cuts it
//! (decode, the small-image policy, [`grid_positions`], at most `max_per_side` crops
//! per side), every crop runs the model in eval mode, and:
//! - the score is the mean of the crops' scores (what `cprl score` prints);
//! - the gate m and the gate's key are averaged over the crops, one value per
//!   channel, and the channels are ranked by that mean m; the causal set is the
//!   top k (ties go to the lower channel id);
//! - the heatmaps are drawn on the centre crop (the crop centred on the image, one of
//!   the grid's when both sides have an odd number of crops): the last stage's
//!   feature maps (before pooling) averaged over the causal channels, each weighted
//!   by its mean m (CPR), and over the other channels, each weighted by 1 - m
//!   (N-CPR), upsampled bilinearly to the crop and blended over it in viridis, both
//!   maps on one colour scale so they compare;
//! - the stability: every crop attacked (each on its own, as `cprl attack` does),
//!   m averaged again, and the Jaccard overlap of the clean and attacked top-k sets
//!   with the change of the score.
//!
//! The pure parts (ranking, Jaccard, map arithmetic, colours) take host slices so
//! they can be tested on hand values.

use std::io::Cursor;
use std::path::Path;

use image::RgbImage;
use serde::Serialize;

use crate::attack::{AttackConfig, attack};
use crate::autograd::no_grad;
use crate::data::crop::{fit_small, grid_positions, write_crop};
use crate::data::decode::decode_rgb;
use crate::error::{Error, Result};
use crate::infer::PredictConfig;
use crate::nn::Cprl;
use crate::nn::cprl::{GateSettings, KeyKind, standardize_per_sample};
use crate::tensor::Tensor;

/// The refusal for a model without the gate: there is no m to explain.
pub const NO_GATE: &str = "explain needs a model with the CPR gate; this checkpoint is the baseline";

/// Share of the heat colour in a blended pixel (the rest is the crop's own colour),
/// enough to read the map while the image stays recognisable.
pub const HEAT_ALPHA: f32 = 0.55;

/// The gate's settings, or the [`NO_GATE`] error for the baseline, so the CLI can
/// refuse a baseline checkpoint before it reads any image.
pub fn require_gate(model: &Cprl) -> Result<&GateSettings> {
    model
        .config
        .gate
        .as_ref()
        .ok_or_else(|| Error::Invalid(format!("{NO_GATE} (no gate: c = z)")))
}

/// k = round(rho * C), at least 1 and at most C: about the channels a trained gate
/// turns on, the default size of the causal set.
pub fn default_k(rho: f32, channels: usize) -> usize {
    ((rho as f64 * channels as f64).round() as usize).clamp(1, channels.max(1))
}

/// Channel ids by m, largest first, ties to the lower id: a total order, so the
/// causal set is the same on every run.
pub fn ranking(m: &[f32]) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..m.len()).collect();
    ids.sort_by(|&a, &b| m[b].total_cmp(&m[a]).then(a.cmp(&b)));
    ids
}

/// The causal set: the ids of the `k` largest m (see [`ranking`]), in rank order.
pub fn top_k(m: &[f32], k: usize) -> Vec<usize> {
    let mut r = ranking(m);
    r.truncate(k);
    r
}

/// Channels the gate counts as on (m > 0.5), as the trainer's gate health does.
pub fn channels_on(m: &[f32]) -> usize {
    m.iter().filter(|&&v| v > 0.5).count()
}

/// |A n B| / |A u B| of two id sets (duplicates ignored); 1 for two empty sets,
/// which agree perfectly.
pub fn jaccard(a: &[usize], b: &[usize]) -> f64 {
    use std::collections::BTreeSet;
    let (a, b): (BTreeSet<_>, BTreeSet<_>) = (a.iter().collect(), b.iter().collect());
    let union = a.union(&b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

/// The column means of a row-major `[rows, v.len() / rows]` matrix, summed in f64:
/// one value per channel from the values of every crop.
pub fn mean_over_rows(v: &[f32], rows: usize) -> Vec<f32> {
    let cols = v.len() / rows.max(1);
    (0..cols)
        .map(|j| {
            let s: f64 = (0..rows).map(|i| f64::from(v[i * cols + j])).sum();
            (s / rows.max(1) as f64) as f32
        })
        .collect()
}

/// An image's evaluation crops, planar `[count, 3, side, side]` in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Crops {
    pub data: Vec<f32>,
    pub count: usize,
    pub side: usize,
    /// The crop centred on the image, `[3, side, side]` (the one the heatmaps are
    /// drawn on): a grid of an even number of crops per side has no middle crop.
    pub centre: Vec<f32>,
    /// Its top-left corner (x, y) in the image.
    pub centre_at: (u32, u32),
}

impl Crops {
    /// All crops as one device batch.
    pub fn to_device(&self, gpu: &std::sync::Arc<crate::Gpu>) -> Result<Tensor> {
        Tensor::from_slice(gpu, &self.data, &[self.count, 3, self.side, self.side])
    }
}

/// Decodes `path` and cuts it as `cprl score` does (`cfg`'s crop, small-image policy,
/// decode limits and crops per side). The error names the file, for the skip warning.
pub fn load_crops(path: &Path, cfg: &PredictConfig) -> Result<Crops> {
    let img = decode_rgb(path, cfg.limits).map_err(|e| Error::Invalid(e.to_string()))?;
    let img = fit_small(img, cfg.crop, cfg.small);
    Ok(grid_crops(&img, cfg.crop, cfg.max_per_side))
}

/// The loader's evaluation grid of `img` (rows of crops top to bottom, each left to
/// right), so crop i here is crop i of `cprl score`.
pub fn grid_crops(img: &RgbImage, side: u32, max_per_side: u32) -> Crops {
    let (w, h) = img.dimensions();
    let ys = grid_positions(h, side, max_per_side);
    let xs = grid_positions(w, side, max_per_side);
    let per = 3 * (side as usize).pow(2);
    let mut data = vec![0.0; ys.len() * xs.len() * per];
    for (i, (y, x)) in ys
        .iter()
        .flat_map(|&y| xs.iter().map(move |&x| (y, x)))
        .enumerate()
    {
        write_crop(img, x, y, side, false, &mut data[i * per..(i + 1) * per]);
    }
    // One crop per side is the centred one (`grid_positions` with a cap of 1).
    let centre_at = (grid_positions(w, side, 1)[0], grid_positions(h, side, 1)[0]);
    let mut centre = vec![0.0; per];
    write_crop(img, centre_at.0, centre_at.1, side, false, &mut centre);
    Crops {
        data,
        count: ys.len() * xs.len(),
        side: side as usize,
        centre,
        centre_at,
    }
}

/// What the gate says about a batch of crops of one image.
#[derive(Clone, Debug, PartialEq)]
pub struct GateReading {
    /// Mean of the crops' scores, summed in f64 in crop order (as `cprl score`).
    pub score: f64,
    /// m per channel, mean over the crops. [C]
    pub m: Vec<f32>,
    /// The gate's key per channel (after the per-sample standardisation when the
    /// model uses it), mean over the crops. [C]
    pub key: Vec<f32>,
}

/// The model on crops `x` ([n, 3, s, s]) in eval mode, without a tape: the score,
/// m and key, each averaged over the crops.
pub fn read_gate(model: &Cprl, x: &Tensor) -> Result<GateReading> {
    let g = require_gate(model)?;
    let _t = no_grad();
    let out = model.forward(x, false)?;
    let n = x.dim(0);
    let m = out.m.as_ref().ok_or_else(|| Error::Invalid(NO_GATE.into()))?;
    let scores = out.score.to_vec()?;
    Ok(GateReading {
        score: scores.iter().map(|&s| f64::from(s)).sum::<f64>() / n.max(1) as f64,
        m: mean_over_rows(&m.to_vec()?, n),
        key: mean_over_rows(&gate_key(model, &out.z, g)?.to_vec()?, n),
    })
}

/// The key the gate ranked z by ([`Cprl::gate`]'s first lines), for the JSON: it
/// shows how far a channel was from switching, which m (saturated near 0 or 1) hides.
fn gate_key(model: &Cprl, z: &Tensor, g: &GateSettings) -> Result<Tensor> {
    let key = match g.key {
        KeyKind::Z => z.clone(),
        KeyKind::HeadWeighted => z.mul(&model.head_channel_norms()?)?.abs()?,
    };
    if g.standardize {
        standardize_per_sample(&key)
    } else {
        Ok(key)
    }
}

/// The last stage's feature maps of one crop ([3, s, s]), before pooling, with their
/// shape (C, h, w): what z averages, so where a channel's z comes from.
pub fn last_stage_maps(model: &Cprl, crop: &[f32], side: usize) -> Result<(Vec<f32>, [usize; 3])> {
    let gpu = model.head.fc1.weight.gpu().clone();
    let x = Tensor::from_slice(&gpu, crop, &[1, 3, side, side])?;
    let _t = no_grad();
    let maps = model.stage_outputs(&x, false)?;
    let last = maps
        .last()
        .ok_or_else(|| Error::Invalid("the model has no stages".into()))?;
    Ok((last.to_vec()?, [last.dim(1), last.dim(2), last.dim(3)]))
}

/// The weighted mean over `channels` of maps `[C, h, w]`: one `h * w` map. A zero
/// weight sum (or no channels) gives the plain mean of the channels (or zeros).
pub fn weighted_channel_mean(
    maps: &[f32],
    shape: [usize; 3],
    channels: &[usize],
    weights: &[f32],
) -> Vec<f32> {
    let plane = shape[1] * shape[2];
    let total: f64 = channels.iter().map(|&c| f64::from(weights[c])).sum();
    let w = |c: usize| {
        if total > 0.0 {
            f64::from(weights[c]) / total
        } else {
            1.0 / channels.len() as f64
        }
    };
    (0..plane)
        .map(|p| {
            channels
                .iter()
                .map(|&c| w(c) * f64::from(maps[c * plane + p]))
                .sum::<f64>() as f32
        })
        .collect()
}

/// Bilinear resampling of an `h x w` map to `side x side` (pixel centres aligned,
/// edges clamped), so a coarse stage map lies over the crop it came from.
pub fn upsample(map: &[f32], h: usize, w: usize, side: usize) -> Vec<f32> {
    let coord = |o: usize, n: usize| {
        let s = ((o as f64 + 0.5) * n as f64 / side as f64 - 0.5).clamp(0.0, (n - 1) as f64);
        let i = s.floor() as usize;
        (i, (i + 1).min(n - 1), s - i as f64)
    };
    let mut out = Vec::with_capacity(side * side);
    for oy in 0..side {
        let (y0, y1, fy) = coord(oy, h);
        for ox in 0..side {
            let (x0, x1, fx) = coord(ox, w);
            let at = |y: usize, x: usize| f64::from(map[y * w + x]);
            let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
            let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
            out.push((top * (1.0 - fy) + bottom * fy) as f32);
        }
    }
    out
}

/// Viridis (matplotlib's, sampled at nine points and interpolated) at t in [0, 1]:
/// perceptually even and readable in grey and by the common colour blindnesses.
pub fn viridis(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 9] = [
        [68.0, 1.0, 84.0],
        [71.0, 44.0, 122.0],
        [59.0, 81.0, 139.0],
        [44.0, 113.0, 142.0],
        [33.0, 144.0, 141.0],
        [39.0, 173.0, 129.0],
        [92.0, 200.0, 99.0],
        [170.0, 220.0, 50.0],
        [253.0, 231.0, 37.0],
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let s = t * 8.0;
    let i = (s.floor() as usize).min(7);
    let f = s - i as f32;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    [0, 1, 2].map(|c| (a[c] + (b[c] - a[c]) * f).round() as u8)
}

/// `v` mapped linearly from [lo, hi] to [0, 1] (all 0 when hi <= lo: a flat map
/// shows no heat rather than noise).
pub fn to_unit(v: &[f32], lo: f32, hi: f32) -> Vec<f32> {
    if hi <= lo {
        return vec![0.0; v.len()];
    }
    v.iter().map(|&x| (x - lo) / (hi - lo)).collect()
}

/// The crop (planar [3, side, side] in [0, 1]) with `heat` (side * side values in
/// [0, 1]) blended over it in viridis at [`HEAT_ALPHA`].
pub fn blend(crop: &[f32], side: usize, heat: &[f32]) -> RgbImage {
    let plane = side * side;
    RgbImage::from_fn(side as u32, side as u32, |x, y| {
        let i = y as usize * side + x as usize;
        let c = viridis(heat[i]);
        image::Rgb([0, 1, 2].map(|k| {
            let px = crop[k * plane + i].clamp(0.0, 1.0) * 255.0;
            ((1.0 - HEAT_ALPHA) * px + HEAT_ALPHA * f32::from(c[k])).round() as u8
        }))
    })
}

/// PNG bytes of an image.
pub fn png_bytes(img: &RgbImage) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| Error::Invalid(format!("encoding a PNG: {e}")))?;
    Ok(out.into_inner())
}

/// The two heatmaps of the centre crop, as PNGs at the crop's size.
pub struct Heatmaps {
    /// Causal channels, weighted by m.
    pub cpr: Vec<u8>,
    /// The other channels, weighted by 1 - m; `None` when the causal set is every
    /// channel.
    pub ncpr: Option<Vec<u8>>,
}

/// Draws [`Heatmaps`] on the centre crop of `crops` from the image's mean `m` and its
/// causal set `top` (see the module header).
pub fn heatmaps(model: &Cprl, crops: &Crops, m: &[f32], top: &[usize]) -> Result<Heatmaps> {
    let side = crops.side;
    let (maps, shape) = last_stage_maps(model, &crops.centre, side)?;
    let rest: Vec<usize> = (0..shape[0]).filter(|c| !top.contains(c)).collect();
    let off: Vec<f32> = m.iter().map(|v| 1.0 - v).collect();
    let cpr = upsample(
        &weighted_channel_mean(&maps, shape, top, m),
        shape[1],
        shape[2],
        side,
    );
    let ncpr = (!rest.is_empty()).then(|| {
        upsample(
            &weighted_channel_mean(&maps, shape, &rest, &off),
            shape[1],
            shape[2],
            side,
        )
    });
    let all = cpr.iter().chain(ncpr.iter().flatten());
    let lo = all.clone().copied().fold(f32::INFINITY, f32::min);
    let hi = all.copied().fold(f32::NEG_INFINITY, f32::max);
    let draw = |v: &[f32]| png_bytes(&blend(&crops.centre, side, &to_unit(v, lo, hi)));
    Ok(Heatmaps {
        cpr: draw(&cpr)?,
        ncpr: ncpr.as_deref().map(draw).transpose()?,
    })
}

/// One channel's entry in the JSON.
#[derive(Clone, Debug, Serialize)]
pub struct ChannelEntry {
    pub id: usize,
    /// Gate value, mean over the crops.
    pub m: f32,
    /// Gate key, mean over the crops.
    pub key: f32,
}

/// The causal set under an attack.
#[derive(Clone, Debug, Serialize)]
pub struct Stability {
    /// The attacked image's score (mean over its attacked crops).
    pub score: f64,
    /// Attacked score minus clean score.
    pub score_change: f64,
    /// Overlap of the clean and attacked top-k sets.
    pub jaccard: f64,
    /// The attacked top-k set, in rank order.
    pub top_k: Vec<usize>,
    pub channels_on: usize,
}

/// Attacks every crop of `x` under `cfg` (random start drawn from `batch_no`),
/// reads the gate again and compares with the clean reading: whether the causal set
/// an explanation names survives a small perturbation.
pub fn stability(
    model: &Cprl,
    x: &Tensor,
    clean: &GateReading,
    k: usize,
    cfg: &AttackConfig,
    batch_no: u64,
) -> Result<Stability> {
    let xa = attack(model, x, cfg, batch_no)?;
    let r = read_gate(model, &xa)?;
    let top = top_k(&r.m, k);
    Ok(Stability {
        score: r.score,
        score_change: r.score - clean.score,
        jaccard: jaccard(&top_k(&clean.m, k), &top),
        channels_on: channels_on(&r.m),
        top_k: top,
    })
}

/// Everything `cprl explain` says about one image (less its path and files).
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub score: f64,
    /// Crops the score, m and key are averaged over.
    pub crops: usize,
    /// Top-left corner (x, y) of the centre crop (the heatmaps') in the image, after
    /// the small-image policy.
    pub centre_crop_at: (u32, u32),
    pub channels_on: usize,
    /// The causal set: the k channels of largest m, in rank order.
    pub top_k: Vec<usize>,
    /// Every channel id by m, largest first.
    pub ranking: Vec<usize>,
    /// Every channel's m and key, by id.
    pub channels: Vec<ChannelEntry>,
    /// The causal set under the attack; `None` when not attacked.
    pub attack: Option<Stability>,
}

/// Explains one image's crops: the reading, the heatmaps and (when `attack_cfg` is
/// given) the stability, with causal sets of `k` channels.
pub fn explain(
    model: &Cprl,
    crops: &Crops,
    k: usize,
    attack_cfg: Option<&AttackConfig>,
    batch_no: u64,
) -> Result<(Explanation, Heatmaps)> {
    let x = crops.to_device(model.head.fc1.weight.gpu())?;
    let r = read_gate(model, &x)?;
    let top = top_k(&r.m, k);
    let maps = heatmaps(model, crops, &r.m, &top)?;
    let attacked = attack_cfg
        .map(|cfg| stability(model, &x, &r, k, cfg, batch_no))
        .transpose()?;
    let channels = (0..r.m.len())
        .map(|id| ChannelEntry {
            id,
            m: r.m[id],
            key: r.key[id],
        })
        .collect();
    let e = Explanation {
        score: r.score,
        crops: crops.count,
        centre_crop_at: crops.centre_at,
        channels_on: channels_on(&r.m),
        ranking: ranking(&r.m),
        top_k: top,
        channels,
        attack: attacked,
    };
    Ok((e, maps))
}

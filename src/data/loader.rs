//! The loader: decodes labelled images on background threads, crops them and hands
//! batches to the trainer or the evaluator in a fixed order.
//!
//! - **Training** ([`Mode::Train`]): each epoch visits the images in an order shuffled
//!   by (seed, epoch), takes one random crop of each, mirrored left-right with
//!   probability 1/2. A crop depends on (seed, epoch, image) only, never on threads.
//! - **Evaluation** ([`Mode::Eval`]): images in dataset order, each cut into a fixed
//!   grid of crops ([`crop::grid_positions`]); a batch holds every crop of up to
//!   `batch` images, and `samples` says which image each crop came from, so scores
//!   can be averaged per image.
//!
//! Images go through: decode (with [`DecodeLimits`]), optional short-side resize,
//! the small-image policy ([`SmallImages`]), then cropping. Pixels stay in [0, 1]:
//! attacks work on that scale, and any normalisation is the model's business.
//!
//! A missing, corrupt or oversized image is skipped: a warning naming it is printed
//! once, the batch is one image shorter, and [`Loader::skipped`] lists every skipped
//! file with the reason, for the summary at the end of a run.
//!
//! Prefetch: `workers` threads, batch `j` built by worker `j % workers`, each feeding
//! a bounded queue of `prefetch` batches; the consumer reads the queues in turn, so
//! the order is fixed and memory is bounded whatever the speeds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use image::RgbImage;

use super::crop::{self, SmallImages};
use super::decode::{DecodeLimits, decode_rgb};
use super::rng::SplitMix64;
use super::{Dataset, Sample};
use crate::{Gpu, Tensor};

/// How batches are cut.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Shuffled order, one random crop (and random flip when `flip`) per image.
    Train { seed: u64, flip: bool },
    /// Dataset order, a deterministic grid of crops per image: at most
    /// `max_per_side` crops along each axis (0 = as many as cover the image).
    Eval { max_per_side: u32 },
}

/// Loader settings; `Default` gives 224-px crops in batches of 32.
#[derive(Clone, Debug)]
pub struct LoaderConfig {
    /// Side of the square crops, in pixels.
    pub crop: u32,
    /// Images per batch (in evaluation, every crop of those images).
    pub batch: usize,
    /// Resize every image so its short side has this many pixels before cropping.
    pub resize_short: Option<u32>,
    /// What to do with images smaller than the crop.
    pub small: SmallImages,
    pub limits: DecodeLimits,
    /// Background decoding threads (at least 1).
    pub workers: usize,
    /// Batches each worker may have ready ahead of the consumer (at least 1).
    pub prefetch: usize,
    /// Training only: leave out the last, short batch of an epoch.
    pub drop_last: bool,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            crop: 224,
            batch: 32,
            resize_short: None,
            small: SmallImages::default(),
            limits: DecodeLimits::default(),
            workers: 1,
            prefetch: 2,
            drop_last: false,
        }
    }
}

/// A batch in host memory.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuBatch {
    /// `[n, 3, crop, crop]`, planar RGB in [0, 1].
    pub images: Vec<f32>,
    /// Label of each crop's image, in [0, 1], higher = better.
    pub labels: Vec<f32>,
    /// Index (into the loader's dataset) of each crop's image.
    pub samples: Vec<usize>,
    pub crop: u32,
}

impl CpuBatch {
    /// Crops in the batch.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Uploads the batch: images `[n, 3, crop, crop]` and labels `[n]`.
    pub fn to_device(&self, gpu: &Arc<Gpu>) -> crate::Result<Batch> {
        let c = self.crop as usize;
        Ok(Batch {
            images: Tensor::from_slice(gpu, &self.images, &[self.len(), 3, c, c])?,
            labels: Tensor::from_slice(gpu, &self.labels, &[self.len()])?,
            samples: self.samples.clone(),
        })
    }
}

/// A batch on the device.
pub struct Batch {
    /// `[n, 3, crop, crop]`, planar RGB in [0, 1].
    pub images: Tensor,
    /// `[n]`, in [0, 1], higher = better.
    pub labels: Tensor,
    /// Index (into the loader's dataset) of each crop's image.
    pub samples: Vec<usize>,
}

/// Files skipped so far, with the reason (shared by the workers).
type Skips = Arc<Mutex<BTreeMap<PathBuf, String>>>;

/// Batches of one dataset (or a subset of it).
pub struct Loader {
    items: Arc<Vec<(PathBuf, f32)>>,
    cfg: LoaderConfig,
    mode: Mode,
    skipped: Skips,
    /// Training only: a group key per item and the run length (see [`Loader::with_groups`]).
    groups: Option<(Arc<Vec<u64>>, usize)>,
}

impl Loader {
    /// A loader over the samples `indices` of `ds` (in that order for evaluation);
    /// batch `samples` index into `indices`' order.
    #[must_use]
    pub fn new(ds: &Dataset, indices: &[usize], cfg: LoaderConfig, mode: Mode) -> Loader {
        let items = indices
            .iter()
            .map(|&i| {
                let s: &Sample = &ds.samples[i];
                (ds.path_of(s), s.label as f32)
            })
            .collect();
        Loader {
            items: Arc::new(items),
            cfg,
            mode,
            skipped: Arc::new(Mutex::new(BTreeMap::new())),
            groups: None,
        }
    }

    /// Training batches made of runs of `run` images that share a group key (`keys`,
    /// one per item in the order of `indices`): e.g. one photo under one distortion at
    /// several levels, so that a ranking loss finds pairs of known order in every
    /// batch. Each epoch shuffles the members of each group, cuts them into runs,
    /// shuffles the runs, then cuts batches; a group smaller than `run` is one short
    /// run. Evaluation ignores the groups.
    ///
    /// # Panics
    /// When `keys` is not one per item.
    #[must_use]
    pub fn with_groups(mut self, keys: Vec<u64>, run: usize) -> Loader {
        assert_eq!(keys.len(), self.items.len(), "one group key per item");
        self.groups = Some((Arc::new(keys), run.max(1)));
        self
    }

    /// Images the loader covers.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Batches per epoch (before skips).
    pub fn batches_per_epoch(&self) -> usize {
        let n = self.items.len();
        let b = self.cfg.batch.max(1);
        match self.mode {
            Mode::Train { .. } if self.cfg.drop_last => n / b,
            _ => n.div_ceil(b),
        }
    }

    /// Every file skipped so far, with the reason.
    pub fn skipped(&self) -> Vec<(PathBuf, String)> {
        let s = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
        s.iter().map(|(p, w)| (p.clone(), w.clone())).collect()
    }

    /// The batches of one epoch, built ahead on background threads.
    pub fn epoch(&self, epoch: u64) -> Epoch {
        self.epoch_from(epoch, 0)
    }

    /// The batches of one epoch from batch `start` on (a resumed run's place): the
    /// same batches, with the same crops, as the full epoch's from `start`.
    pub fn epoch_from(&self, epoch: u64, start: usize) -> Epoch {
        let mut plan = self.plan(epoch);
        plan.drain(..start.min(plan.len()));
        let plan = Arc::new(plan);
        let workers = self.cfg.workers.max(1).min(plan.len().max(1));
        let mut queues = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel(self.cfg.prefetch.max(1));
            let job = Worker {
                items: self.items.clone(),
                cfg: self.cfg.clone(),
                mode: self.mode,
                skipped: self.skipped.clone(),
                plan: plan.clone(),
                epoch,
            };
            handles.push(std::thread::spawn(move || job.run(w, workers, tx)));
            queues.push(rx);
        }
        Epoch {
            queues,
            handles,
            next: 0,
            total: plan.len(),
        }
    }

    /// The image indices of each batch of an epoch.
    fn plan(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        if let Mode::Train { seed, .. } = self.mode {
            match &self.groups {
                None => SplitMix64::stream(seed, &[0x5348_5546, epoch]).shuffle(&mut order),
                Some((keys, run)) => order = grouped_order(keys, *run, seed, epoch),
            }
        }
        let b = self.cfg.batch.max(1);
        let mut plan: Vec<Vec<usize>> = order.chunks(b).map(|c| c.to_vec()).collect();
        if matches!(self.mode, Mode::Train { .. }) && self.cfg.drop_last {
            plan.retain(|c| c.len() == b);
        }
        plan
    }
}

/// The item order of one grouped epoch (see [`Loader::with_groups`]).
fn grouped_order(keys: &[u64], run: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, &k) in keys.iter().enumerate() {
        groups.entry(k).or_default().push(i);
    }
    let mut runs = Vec::new();
    for (k, mut members) in groups {
        SplitMix64::stream(seed, &[0x4752_5550, epoch, k]).shuffle(&mut members);
        runs.extend(members.chunks(run).map(<[usize]>::to_vec));
    }
    SplitMix64::stream(seed, &[0x5255_4e53, epoch]).shuffle(&mut runs);
    runs.concat()
}

/// One epoch's batches, in order. Dropping it stops the workers.
pub struct Epoch {
    queues: Vec<Receiver<CpuBatch>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    total: usize,
}

impl Iterator for Epoch {
    type Item = CpuBatch;

    /// The next non-empty batch (a batch whose images were all skipped is left out).
    fn next(&mut self) -> Option<CpuBatch> {
        while self.next < self.total {
            let q = &self.queues[self.next % self.queues.len()];
            self.next += 1;
            match q.recv() {
                Ok(b) if b.is_empty() => continue,
                Ok(b) => return Some(b),
                // A worker that died (it cannot panic on bad images, but a bug could)
                // ends the epoch rather than hanging it.
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        // Closing the queues makes every blocked worker's send fail, so it returns.
        self.queues.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// What one background thread needs to build its share of an epoch.
struct Worker {
    items: Arc<Vec<(PathBuf, f32)>>,
    cfg: LoaderConfig,
    mode: Mode,
    skipped: Skips,
    plan: Arc<Vec<Vec<usize>>>,
    epoch: u64,
}

impl Worker {
    /// Builds batches `w, w + workers, ...` and sends them in that order.
    fn run(self, w: usize, workers: usize, tx: SyncSender<CpuBatch>) {
        for j in (w..self.plan.len()).step_by(workers) {
            let batch = self.build(&self.plan[j]);
            if tx.send(batch).is_err() {
                return; // the consumer went away
            }
        }
    }

    fn build(&self, images: &[usize]) -> CpuBatch {
        let c = self.cfg.crop;
        let per = 3 * (c as usize) * (c as usize);
        let mut out = CpuBatch {
            images: Vec::with_capacity(images.len() * per),
            labels: Vec::with_capacity(images.len()),
            samples: Vec::with_capacity(images.len()),
            crop: c,
        };
        for &i in images {
            let Some(img) = self.load(i) else { continue };
            for (x, y, flip) in self.crops(i, &img) {
                let start = out.images.len();
                out.images.resize(start + per, 0.0);
                crop::write_crop(&img, x, y, c, flip, &mut out.images[start..]);
                out.labels.push(self.items[i].1);
                out.samples.push(i);
            }
        }
        out
    }

    /// The crops (x, y, flip) taken from image `i`.
    fn crops(&self, i: usize, img: &RgbImage) -> Vec<(u32, u32, bool)> {
        let (w, h) = img.dimensions();
        let c = self.cfg.crop;
        match self.mode {
            Mode::Train { seed, flip } => {
                let mut rng = SplitMix64::stream(seed, &[0x4352_4F50, self.epoch, i as u64]);
                let (x, y) = crop::random_corner(&mut rng, w, h, c);
                vec![(x, y, flip && rng.next_u64() & 1 == 1)]
            }
            Mode::Eval { max_per_side } => {
                let ys = crop::grid_positions(h, c, max_per_side);
                let xs = crop::grid_positions(w, c, max_per_side);
                ys.iter()
                    .flat_map(|&y| xs.iter().map(move |&x| (x, y, false)))
                    .collect()
            }
        }
    }

    /// Decodes and prepares image `i`, or records why it is skipped.
    fn load(&self, i: usize) -> Option<RgbImage> {
        let path = &self.items[i].0;
        if self.lock_skips().contains_key(path) {
            return None; // failed before: do not retry or warn again
        }
        match decode_rgb(path, self.cfg.limits) {
            Ok(img) => {
                let img = match self.cfg.resize_short {
                    Some(s) => crop::resize_short(img, s),
                    None => img,
                };
                Some(crop::fit_small(img, self.cfg.crop, self.cfg.small))
            }
            Err(e) => {
                eprintln!("warning: skipping {e}");
                self.lock_skips().insert(path.clone(), e.to_string());
                None
            }
        }
    }

    fn lock_skips(&self) -> std::sync::MutexGuard<'_, BTreeMap<PathBuf, String>> {
        self.skipped.lock().unwrap_or_else(|e| e.into_inner())
    }
}

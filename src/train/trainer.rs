//! The training loop: the minimax step of docs/METHOD.md section 2, the schedule,
//! validation, checkpoints and their exact resumption.
//!
//! One step on a batch (x, y) of B images:
//! 1. Interventions (when lambda_inv > 0): for the first k images, PGD with a random
//!    start finds x' = x + delta, ||delta||_inf <= eps, that moves the score most;
//!    batch norm runs on batch statistics without moving the running ones, and the
//!    backward stops at the image (no weight gradients).
//! 2. One forward of [x; x'] in training mode; L_suff, the ranking terms and the
//!    spread floor on the clean part, L_inv between the parts, and the backbone's
//!    -lambda_nec min(L_adv, Var(y)).
//! 3. The adversary head h_n is trained on N-CPR detached, with its own Adam, to
//!    minimise L_adv (alternating roles in one step: the backbone and head update
//!    against h_n as it was, then h_n updates against their features as they were).
//!
//! Exactness: a batch's crops depend on (seed, epoch, image), the PGD start on (seed,
//! step), the schedule on the step; a checkpoint keeps the weights, the running
//! statistics, both optimisers' state and the place in the epoch, so a resumed run
//! repeats the losses of one never stopped, bit for bit, on the same adapter with the
//! same kernel choices (`CPRL_TUNE_CACHE`; `cprl train` keeps them in its run folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::checkpoint::{self, Checkpoint, CheckpointMeta, DatasetInfo};
use super::config::{AtLabel, DefenseKind, TrainConfig, learning_rate};
use super::health::GateHealth;
use super::objective as obj;
use crate::autograd::{self, no_grad};
use crate::data::rng::SplitMix64;
use crate::data::{Batch, Dataset, Loader, LoaderConfig, Mode, Sample};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::infer::{PredictConfig, predict};
use crate::metrics::correlation::{self, EvalOptions};
use crate::metrics::fr::{Planes, ssim};
use crate::nn::cprl::Pass;
use crate::nn::{Cprl, CprlConfig, Module};
use crate::ops::optim::{Adam, AdamConfig, Optimizer, clip_grad_norm};
use crate::tensor::Tensor;

/// The images a run trains and validates on.
pub struct TrainData<'a> {
    pub ds: &'a Dataset,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

impl<'a> TrainData<'a> {
    /// The dataset's train and val splits (every sample must carry one).
    pub fn from_splits(ds: &'a Dataset) -> Result<TrainData<'a>> {
        use crate::data::Split;
        let of = |s: Split| -> Vec<usize> {
            (0..ds.samples.len())
                .filter(|&i| ds.samples[i].split == Some(s))
                .collect()
        };
        let (train, val) = (of(Split::Train), of(Split::Val));
        if train.len() < 2 {
            return Err(Error::Invalid(format!(
                "dataset {} has {} training images: need at least 2 (does its label file give splits?)",
                ds.name,
                train.len()
            )));
        }
        Ok(TrainData { ds, train, val })
    }
}

/// One line of the metrics log (`metrics.jsonl`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogLine {
    /// "train" (a window of steps) or "val" (a validation).
    pub kind: String,
    pub step: u64,
    /// Epochs done, fractional.
    pub epoch: f64,
    pub lr: f64,
    /// The weighted total of the last step of the window (train).
    pub loss: Option<f64>,
    /// Each term of that step, unweighted.
    pub terms: BTreeMap<String, f64>,
    /// Standard deviation of the scores in the last batch (train) or over the
    /// validation images (val), with the labels' beside it.
    pub score_std: f64,
    pub label_std: f64,
    /// Training images per second over the window (interventions included).
    pub images_per_s: Option<f64>,
    pub gate: Option<GateHealth>,
    pub srocc: Option<f64>,
    pub plcc: Option<f64>,
    pub krocc: Option<f64>,
    pub rmse: Option<f64>,
}

/// What [`Trainer::run`] reports as it goes.
pub enum Event<'a> {
    Log(&'a LogLine),
    /// A checkpoint written (path).
    Saved(&'a Path),
}

/// Where and how a run writes; `Default` writes nothing and prints nothing.
#[derive(Default, Clone)]
pub struct RunOptions {
    /// Run folder: `metrics.jsonl`, `last.safetensors`, `best.safetensors` (+ .json).
    pub out: Option<PathBuf>,
    /// Stop once this many steps are done in total (a test's interruption).
    pub stop_at: Option<u64>,
}

/// Trainer state beyond the weights, kept in a checkpoint's `extra`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Progress {
    seed: u64,
    /// Batches of the current epoch already trained.
    batch_in_epoch: usize,
    best_srocc: Option<f64>,
    best_step: Option<u64>,
}

/// A model, its optimisers and where training stands.
pub struct Trainer {
    pub gpu: Arc<Gpu>,
    pub model: Cprl,
    pub cfg: TrainConfig,
    pub step: u64,
    pub epoch: u64,
    pub dataset: Option<DatasetInfo>,
    progress: Progress,
    main_params: Vec<Tensor>,
    adv_params: Vec<Tensor>,
    opt: Adam,
    opt_adv: Adam,
    /// Every log line of this process (the report's curves).
    pub history: Vec<LogLine>,
}

/// What a step's second images are for.
enum Second {
    /// CPRL's interventions (the invariance loss).
    Intervention,
    /// AT's adversarial images and the labels they are fitted to.
    Adversarial { labels: Tensor },
    /// NT's x + h v (the finite-difference slope penalty).
    Shifted { h: f32 },
}

struct SecondImages {
    x: Tensor,
    kind: Second,
}

/// The result of one step, read back only on logging steps.
struct StepOut {
    total: Tensor,
    terms: Vec<(&'static str, Tensor)>,
    score: Tensor,
    m: Option<Tensor>,
}

impl Trainer {
    /// A fresh model (initialised from `seed`) and its optimisers.
    pub fn new(gpu: &Arc<Gpu>, model_cfg: &CprlConfig, cfg: &TrainConfig, seed: u64) -> Result<Trainer> {
        cfg.validate()?;
        let model = Cprl::new(gpu, model_cfg, seed)?;
        let (main_params, adv_params) = split_params(&model);
        Ok(Trainer {
            gpu: gpu.clone(),
            model,
            cfg: cfg.clone(),
            step: 0,
            epoch: 0,
            dataset: None,
            progress: Progress {
                seed,
                ..Progress::default()
            },
            main_params,
            adv_params,
            opt: Adam::new(AdamConfig::adamw(cfg.lr, cfg.weight_decay)),
            opt_adv: Adam::new(AdamConfig::adam(cfg.adversary_lr)),
            history: Vec::new(),
        })
    }

    /// The trainer a checkpoint saved, ready to go on where it stopped.
    pub fn resume(gpu: &Arc<Gpu>, path: &Path) -> Result<Trainer> {
        let ck = checkpoint::load(path)?;
        let cfg: TrainConfig = serde_json::from_value(ck.meta.train.clone())
            .map_err(|e| Error::Invalid(format!("{}: training config: {e}", path.display())))?;
        let progress: Progress = serde_json::from_value(ck.meta.extra.clone())
            .map_err(|e| Error::Invalid(format!("{}: trainer state: {e}", path.display())))?;
        let mut t = Trainer::new(gpu, &ck.meta.model, &cfg, progress.seed)?;
        checkpoint::load_module("model", &t.model, &ck)?;
        checkpoint::load_optimizer("optim", &mut t.opt, &t.main_params, &ck)?;
        checkpoint::load_optimizer("optim_adv", &mut t.opt_adv, &t.adv_params, &ck)?;
        t.step = ck.meta.step;
        t.epoch = ck.meta.epoch;
        t.dataset = ck.meta.dataset.clone();
        t.progress = progress;
        Ok(t)
    }

    /// Everything needed to resume, or to score with the model.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let mut tensors = checkpoint::module_entries("model", &self.model)?;
        tensors.extend(checkpoint::optimizer_entries(
            "optim",
            &self.opt,
            &self.main_params,
        )?);
        tensors.extend(checkpoint::optimizer_entries(
            "optim_adv",
            &self.opt_adv,
            &self.adv_params,
        )?);
        let json = |r: serde_json::Result<serde_json::Value>| {
            r.map_err(|e| Error::Invalid(format!("checkpoint meta: {e}")))
        };
        Ok(Checkpoint {
            meta: CheckpointMeta {
                format: 1,
                program_version: env!("CARGO_PKG_VERSION").to_string(),
                model: self.model.config.clone(),
                train: json(serde_json::to_value(&self.cfg))?,
                dataset: self.dataset.clone(),
                step: self.step,
                epoch: self.epoch,
                extra: json(serde_json::to_value(&self.progress))?,
            },
            tensors,
        })
    }

    /// Best validation SROCC so far and its step.
    pub fn best(&self) -> Option<(f64, u64)> {
        self.progress.best_srocc.zip(self.progress.best_step)
    }

    /// The loader of the training images, batches grouped for the rank loss.
    fn train_loader(&self, data: &TrainData) -> Loader {
        let cfg = LoaderConfig {
            crop: self.model.config.crop as u32,
            batch: self.cfg.batch,
            workers: self.cfg.workers.max(1),
            drop_last: true,
            ..LoaderConfig::default()
        };
        let mode = Mode::Train {
            seed: self.progress.seed,
            flip: self.cfg.flip,
        };
        let keys = data
            .train
            .iter()
            .map(|&i| group_key(&data.ds.samples[i]))
            .collect();
        Loader::new(data.ds, &data.train, cfg, mode).with_groups(keys, self.cfg.group_run)
    }

    /// Total steps of the run (epochs x batches, capped by `max_steps`).
    pub fn total_steps(&self, data: &TrainData) -> u64 {
        let per_epoch = (data.train.len() / self.cfg.batch) as u64;
        let all = per_epoch * self.cfg.epochs as u64;
        match self.cfg.max_steps {
            0 => all,
            m => m.min(all),
        }
    }

    /// Trains until the configured end (or `opts.stop_at`), validating each epoch and
    /// writing checkpoints; `on_event` sees every log line and checkpoint.
    pub fn run(
        &mut self,
        data: &TrainData,
        opts: &RunOptions,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<()> {
        self.dataset = Some(DatasetInfo::of(data.ds));
        let loader = self.train_loader(data);
        let per_epoch = loader.batches_per_epoch().max(1);
        let total = self.total_steps(data);
        let mut window = (Instant::now(), 0usize);
        while self.step < total && opts.stop_at.is_none_or(|s| self.step < s) {
            let start = self.progress.batch_in_epoch;
            for cpu in loader.epoch_from(self.epoch, start) {
                let batch = cpu.to_device(&self.gpu)?;
                let samples: Vec<&Sample> = batch
                    .samples
                    .iter()
                    .map(|&k| &data.ds.samples[data.train[k]])
                    .collect();
                let logging = (self.step + 1).is_multiple_of(self.cfg.log_every) || self.step == 0;
                let out = self.train_step(&batch, &samples, &cpu.labels, total)?;
                window.1 += batch.samples.len();
                self.step += 1;
                self.progress.batch_in_epoch += 1;
                if logging {
                    let line = self.train_log(&out, &cpu.labels, per_epoch, window)?;
                    self.emit(line, opts, on_event)?;
                    window = (Instant::now(), 0);
                }
                let every = self.cfg.checkpoint_every;
                if every > 0 && self.step.is_multiple_of(every) {
                    self.save_last(opts, on_event)?;
                }
                if self.step >= total || opts.stop_at.is_some_and(|s| self.step >= s) {
                    break;
                }
            }
            if self.progress.batch_in_epoch >= per_epoch || self.step >= total {
                self.end_epoch(data, opts, on_event)?;
            }
            if opts.stop_at.is_some_and(|s| self.step >= s) {
                break;
            }
        }
        self.save_last(opts, on_event)
    }

    fn end_epoch(
        &mut self,
        data: &TrainData,
        opts: &RunOptions,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<()> {
        self.epoch += 1;
        self.progress.batch_in_epoch = 0;
        let v = self.cfg.validate_every as u64;
        if v > 0
            && !data.val.is_empty()
            && (self.epoch.is_multiple_of(v) || self.step >= self.total_steps(data))
        {
            let line = self.validate(data)?;
            let srocc = line.srocc.unwrap_or(f64::NAN);
            let better = self.progress.best_srocc.is_none_or(|b| srocc > b);
            self.emit(line, opts, on_event)?;
            if better && srocc.is_finite() {
                self.progress.best_srocc = Some(srocc);
                self.progress.best_step = Some(self.step);
                if let Some(dir) = &opts.out {
                    let p = dir.join("best.safetensors");
                    checkpoint::save(&p, &self.checkpoint()?)?;
                    on_event(Event::Saved(&p));
                }
            }
        }
        self.save_last(opts, on_event)
    }

    fn save_last(&self, opts: &RunOptions, on_event: &mut dyn FnMut(Event)) -> Result<()> {
        if let Some(dir) = &opts.out {
            let p = dir.join("last.safetensors");
            checkpoint::save(&p, &self.checkpoint()?)?;
            on_event(Event::Saved(&p));
        }
        Ok(())
    }

    fn emit(&mut self, line: LogLine, opts: &RunOptions, on_event: &mut dyn FnMut(Event)) -> Result<()> {
        if let Some(dir) = &opts.out {
            use std::io::Write;
            let path = dir.join("metrics.jsonl");
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::Io {
                    path: path.display().to_string(),
                    source: e,
                })?;
            let text = serde_json::to_string(&line).map_err(|e| Error::Invalid(e.to_string()))?;
            writeln!(f, "{text}").map_err(|e| Error::Io {
                path: path.display().to_string(),
                source: e,
            })?;
        }
        on_event(Event::Log(&line));
        self.history.push(line);
        Ok(())
    }

    /// SROCC, PLCC, KROCC, RMSE and the score spread on the validation images.
    pub fn validate(&self, data: &TrainData) -> Result<LogLine> {
        let mut pc = PredictConfig::for_model(&self.model.config);
        pc.max_per_side = self.cfg.val_crops_per_side;
        let p = predict(&self.model, data.ds, &data.val, &pc, None)?;
        let (mut pred, mut mos) = (Vec::new(), Vec::new());
        for (&s, &i) in p.scores.iter().zip(&data.val) {
            if s.is_finite() {
                pred.push(s);
                mos.push(data.ds.samples[i].label);
            }
        }
        let opts = EvalOptions {
            logistic: false,
            resamples: 0,
            seed: 0,
        };
        let c = correlation::evaluate(&pred, &mos, &opts);
        let std = correlation::std_population;
        Ok(LogLine {
            kind: "val".into(),
            step: self.step,
            epoch: self.epoch as f64,
            lr: self.opt.lr(),
            loss: None,
            terms: BTreeMap::new(),
            score_std: std(&pred),
            label_std: std(&mos),
            images_per_s: None,
            gate: None,
            srocc: Some(c.srocc),
            plcc: Some(c.plcc),
            krocc: Some(c.krocc),
            rmse: Some(c.rmse),
        })
    }

    fn train_log(
        &self,
        out: &StepOut,
        labels: &[f32],
        per_epoch: usize,
        window: (Instant, usize),
    ) -> Result<LogLine> {
        // One read-back for every scalar of the step.
        let mut scalars = vec![out.total.reshape(&[1])?];
        for (_, t) in &out.terms {
            scalars.push(t.reshape(&[1])?);
        }
        let refs: Vec<&Tensor> = scalars.iter().collect();
        let values = Tensor::concat(&refs, 0)?.to_vec()?;
        let loss = values[0] as f64;
        if !loss.is_finite() {
            return Err(Error::Invalid(format!(
                "training diverged: the loss is {loss} at step {} (lower the learning rate?)",
                self.step
            )));
        }
        let terms = out
            .terms
            .iter()
            .zip(&values[1..])
            .map(|((n, _), &v)| (n.to_string(), v as f64))
            .collect();
        let scores = out.score.to_vec()?;
        let gate = match &out.m {
            Some(m) => Some(GateHealth::of(&m.to_vec()?, self.model.config.channels())),
            None => None,
        };
        let secs = window.0.elapsed().as_secs_f64();
        Ok(LogLine {
            kind: "train".into(),
            step: self.step,
            epoch: self.epoch as f64 + self.progress.batch_in_epoch as f64 / per_epoch as f64,
            lr: self.opt.lr(),
            loss: Some(loss),
            terms,
            score_std: correlation::std_population(&obj::f64s(&scores)),
            label_std: correlation::std_population(&obj::f64s(labels)),
            images_per_s: (secs > 0.0).then(|| window.1 as f64 / secs),
            gate,
            srocc: None,
            plcc: None,
            krocc: None,
            rmse: None,
        })
    }

    /// One optimisation step (see the module header); `labels` are the batch's on the
    /// host, `samples` its images' records (for the known pairs).
    fn train_step(
        &mut self,
        batch: &Batch,
        samples: &[&Sample],
        labels: &[f32],
        total: u64,
    ) -> Result<StepOut> {
        let lr = learning_rate(&self.cfg, self.step, total);
        self.opt.set_lr(lr);
        let o = self.cfg.objective;
        let b = batch.samples.len();
        let x = &batch.images;
        let y = &batch.labels;
        // The step's second images (CPRL's interventions or a defence's), for the
        // first k of the batch, forwarded with the batch as [x; x2].
        let second = self.second_images(x, labels)?;
        let k = second.as_ref().map_or(0, |s| s.x.dim(0));
        let input = match &second {
            Some(s) => Tensor::concat(&[x, &s.x], 0)?,
            None => x.clone(),
        };
        let out = self.model.forward_pass(&input, Pass::Train)?;
        let part = |t: &Tensor, from: usize, len: usize| -> Result<Tensor> {
            if k == 0 {
                Ok(t.clone())
            } else {
                t.slice(0, from, len)
            }
        };
        let s = part(&out.score, 0, b)?;
        let var_y = obj::variance(labels);
        let mut terms: Vec<(&'static str, f32, Tensor)> = Vec::new();
        if o.l1 > 0.0 {
            terms.push(("l1", o.l1, s.l1(y)?));
        }
        if o.plcc > 0.0 {
            terms.push(("plcc", o.plcc, s.plcc_loss(y)?));
        }
        let pairs = obj::known_pairs(samples);
        if o.rank > 0.0 && !pairs.is_empty() {
            let w = obj::pair_weights(&self.gpu, b, &pairs)?;
            terms.push(("rank", o.rank, obj::rank_margin(&s, &w, o.rank_margin)?));
        }
        if o.spearman > 0.0 {
            let ranks = Tensor::from_slice(&self.gpu, &obj::label_ranks(labels), &[b])?;
            terms.push((
                "spearman",
                o.spearman,
                obj::soft_spearman(&s, &ranks, o.spearman_strength)?,
            ));
        }
        if o.spread > 0.0 {
            terms.push(("spread", o.spread, obj::spread_floor(&s, var_y, o.spread_floor)?));
        }
        if let Some(sec) = &second {
            let s2 = out.score.slice(0, b, k)?;
            let s1 = s.slice(0, 0, k)?;
            match &sec.kind {
                Second::Intervention => {
                    let c2 = out.c.slice(0, b, k)?;
                    let l = obj::invariance(&s2, &s1, &c2, &out.c.slice(0, 0, k)?)?;
                    terms.push(("inv", o.invariance, l));
                }
                Second::Adversarial { labels } => {
                    let d = &self.cfg.defense;
                    terms.push(("at", d.at_weight, s2.l1(labels)?));
                }
                Second::Shifted { h } => {
                    let d = &self.cfg.defense;
                    terms.push(("nt", d.nt_weight, obj::finite_difference_penalty(&s2, &s1, *h)?));
                }
            }
        }
        let mut adv_n = None;
        if let (Some(adv), Some(n)) = (&out.adv, &out.n)
            && o.necessity > 0.0
        {
            let l_adv = part(adv, 0, b)?.mse(y)?;
            terms.push(("adv", -o.necessity, obj::capped(&l_adv, var_y)?));
            adv_n = Some(part(n, 0, b)?.detach());
        }
        if terms.is_empty() {
            return Err(Error::Invalid(
                "training config: every loss term is switched off".into(),
            ));
        }
        let mut total_loss = terms[0].2.scale(terms[0].1)?;
        for (_, wgt, t) in &terms[1..] {
            total_loss = total_loss.add(&t.scale(*wgt)?)?;
        }
        // The main optimiser's parameters only: the adversary head, which the loss
        // also reaches, gets its own step below.
        let targets: Vec<&Tensor> = self.main_params.iter().collect();
        let mut grads = autograd::backward_to(&total_loss, &targets)?;
        if self.cfg.clip_grad_norm > 0.0 {
            clip_grad_norm(&self.main_params, &mut grads, self.cfg.clip_grad_norm)?;
        }
        // The adversary's own step, on N-CPR as the backbone gave it.
        let adv_grads = match (&adv_n, &self.model.adversary) {
            (Some(n), Some(h)) => Some(autograd::backward(&h.forward(n)?.mse(y)?)?),
            _ => None,
        };
        self.opt.step(&self.main_params, &grads)?;
        if let Some(g) = adv_grads {
            self.opt_adv.step(&self.adv_params, &g)?;
        }
        Ok(StepOut {
            total: total_loss,
            terms: terms.into_iter().map(|(n, _, t)| (n, t)).collect(),
            score: s,
            m: out.m.as_ref().map(|m| part(m, 0, b)).transpose()?,
        })
    }

    /// The second images of a step, if any: CPRL's interventions when lambda_inv > 0,
    /// else the defence's adversarial (AT) or shifted (NT) images.
    fn second_images(&self, x: &Tensor, labels: &[f32]) -> Result<Option<SecondImages>> {
        let b = x.dim(0);
        let d = self.cfg.defense;
        if self.cfg.objective.invariance > 0.0 {
            let k = self.cfg.interventions.count(b);
            if k == 0 {
                return Ok(None);
            }
            let xi = self.interventions(&x.slice(0, 0, k)?)?;
            return Ok(Some(SecondImages {
                x: xi,
                kind: Second::Intervention,
            }));
        }
        let k = d.count(b);
        if k == 0 {
            return Ok(None);
        }
        let xk = x.slice(0, 0, k)?;
        Ok(Some(match d.kind {
            DefenseKind::None => return Ok(None),
            DefenseKind::At => {
                let xa = self.at_images(&xk, &labels[..k])?;
                let y2 = self.at_labels(&xk, &xa, &labels[..k])?;
                SecondImages {
                    x: xa,
                    kind: Second::Adversarial {
                        labels: Tensor::from_slice(&self.gpu, &y2, &[k])?,
                    },
                }
            }
            DefenseKind::Nt => SecondImages {
                x: self.nt_images(&xk)?,
                kind: Second::Shifted { h: d.nt_h },
            },
        }))
    }

    /// AT's images: a uniform start in the eps ball, then one signed step of the
    /// regression loss's input gradient (it raises |f(x') - y|), projected back to the
    /// ball and to [0, 1]. Batch norm as in the interventions (batch statistics, the
    /// running ones left alone).
    pub fn at_images(&self, x: &Tensor, labels: &[f32]) -> Result<Tensor> {
        let d = self.cfg.defense;
        let (eps, step) = (d.at_eps_255 / 255.0, d.at_step_255 / 255.0);
        let seed = SplitMix64::stream(self.progress.seed, &[0x4154_0000, self.step]).next_u64();
        let start = {
            let _g = no_grad();
            x.add(&Tensor::uniform(&self.gpu, x.shape(), seed, -eps, eps)?)?
                .clamp(0.0, 1.0)?
        };
        let y = Tensor::from_slice(&self.gpu, labels, &[labels.len()])?;
        let xv = start.requires_grad_();
        let s = self.model.forward_pass(&xv, Pass::TrainFrozen)?.score;
        let g = autograd::backward_to(&s.l1(&y)?, &[&xv])?;
        let _g = no_grad();
        let stepped = xv.add(&g.of(&xv)?.sign()?.scale(step)?)?;
        let delta = stepped.sub(x)?.clamp(-eps, eps)?;
        Ok(x.add(&delta)?.clamp(0.0, 1.0)?.detach())
    }

    /// The labels AT fits its images to: kept, or lowered by 1 - SSIM (the project's
    /// SSIM, on the host, per image) as [`crate::train::AtLabel::Ssim`] says.
    pub fn at_labels(&self, x: &Tensor, xa: &Tensor, labels: &[f32]) -> Result<Vec<f32>> {
        let d = self.cfg.defense;
        if d.at_label == AtLabel::Keep {
            return Ok(labels.to_vec());
        }
        let (c, h, w) = (x.dim(1), x.dim(2), x.dim(3));
        let (clean, adv) = (x.to_vec()?, xa.to_vec()?);
        let n = c * h * w;
        let planes = |v: &[f32]| Planes {
            channels: c,
            height: h,
            width: w,
            data: v.iter().map(|&p| f64::from(p)).collect(),
        };
        labels
            .iter()
            .enumerate()
            .map(|(i, &y)| {
                let r = i * n..(i + 1) * n;
                let q = ssim(&planes(&clean[r.clone()]), &planes(&adv[r]))
                    .map_err(|e| Error::Invalid(format!("AT label: SSIM: {e}")))?;
                Ok((f64::from(y) - f64::from(d.at_penalty) * (1.0 - q)).clamp(0.0, 1.0) as f32)
            })
            .collect()
    }

    /// NT's shifted images x + h sign(df/dx) (not clamped: the penalty measures the
    /// model's slope, not an image a user could hold).
    pub fn nt_images(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.cfg.defense.nt_h;
        let xv = x.detach().requires_grad_();
        let s = self.model.forward_pass(&xv, Pass::TrainFrozen)?.score;
        let g = autograd::backward_to(&s.sum()?, &[&xv])?;
        let _g = no_grad();
        Ok(xv.add(&g.of(&xv)?.sign()?.scale(h)?)?.detach())
    }

    /// PGD for intervention images of `x` (the images a step perturbs): random start
    /// in the eps ball, then K signed-gradient steps that maximise
    /// (h(c(x')) - h(c(x)))^2, each projected back to the ball and to [0, 1].
    fn interventions(&self, x: &Tensor) -> Result<Tensor> {
        let ic = self.cfg.interventions;
        let (eps, alpha) = (ic.eps(), ic.alpha());
        let clean = {
            let _g = no_grad();
            self.model.forward_pass(x, Pass::TrainFrozen)?.score
        };
        let seed = SplitMix64::stream(self.progress.seed, &[0x5047_4400, self.step]).next_u64();
        let mut xa = {
            let _g = no_grad();
            x.add(&Tensor::uniform(&self.gpu, x.shape(), seed, -eps, eps)?)?
                .clamp(0.0, 1.0)?
        };
        for _ in 0..ic.steps {
            let xv = xa.detach().requires_grad_();
            let s = self.model.forward_pass(&xv, Pass::TrainFrozen)?.score;
            let loss = s.sub(&clean)?.square()?.mean()?;
            let g = autograd::backward_to(&loss, &[&xv])?;
            let _g = no_grad();
            let stepped = xv.add(&g.of(&xv)?.sign()?.scale(alpha)?)?;
            let delta = stepped.sub(x)?.clamp(-eps, eps)?;
            xa = x.add(&delta)?.clamp(0.0, 1.0)?;
        }
        Ok(xa.detach())
    }
}

/// The model's parameters for the main optimiser (backbone and head) and for the
/// adversary's.
fn split_params(model: &Cprl) -> (Vec<Tensor>, Vec<Tensor>) {
    let (adv, main): (Vec<_>, Vec<_>) = model
        .params()
        .into_iter()
        .partition(|(n, _)| n.starts_with("adversary."));
    (
        main.into_iter().map(|(_, t)| t).collect(),
        adv.into_iter().map(|(_, t)| t).collect(),
    )
}

/// The loader's group of an image: its photo and distortion (images without them are
/// each their own group).
/// FNV-1a, not std's hasher: the key seeds the epoch's shuffle, so it must not change
/// between builds.
fn group_key(s: &Sample) -> u64 {
    let text = match (&s.reference, &s.distortion) {
        (Some(r), Some(d)) => format!("{r}\u{0}{d}"),
        _ => s.path.to_string_lossy().into_owned(),
    };
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

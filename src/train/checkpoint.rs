//! Checkpoints: a model's parameters and buffers, an optimiser's state and the
//! metadata needed to rebuild and resume, in one safetensors file.
//!
//! Layout of a checkpoint at `path` (e.g. `run/best.safetensors`):
//!
//! - `path`: a safetensors file of F32 tensors (little-endian, sorted by name as the
//!   safetensors writer does), named `model.stage0.conv0.weight`,
//!   `optim.0.exp_avg` ...; its `__metadata__` holds the [`CheckpointMeta`] as JSON
//!   under the key `cprl`. [`load`] reads the metadata from here only.
//! - `path.with_extension("json")`: the same metadata, pretty-printed, for people
//!   (never read back: a stale or edited sidecar cannot change what loads).
//!
//! Both files are written atomically (temporary file in the same folder, flushed and
//! synced, then renamed over the target), so a crash or a full disk mid-save leaves
//! the previous checkpoint whole rather than a truncated one that would fail to
//! resume.
//!
//! Loading checks everything before writing anything into a module: a missing
//! tensor, a shape that differs from the model config's, an unexpected extra tensor
//! or a non-F32 dtype is an error naming the tensor, and the module keeps its values.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Scale};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::nn::{Cprl, CprlConfig, Module};
use crate::ops::optim::Optimizer;
use crate::tensor::Tensor;

/// The checkpoint format this build writes and reads.
pub const FORMAT: u32 = 1;

/// Key of the metadata JSON in the safetensors `__metadata__` map.
pub const META_KEY: &str = "cprl";

/// Prefix of the model's tensors in checkpoints written by the trainer (the one
/// [`load_model`] reads).
pub const MODEL_PREFIX: &str = "model";

/// Which dataset a model was trained on: enough to map its unit-scale scores back to
/// the dataset's raw scale and to notice a resume on different data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Format or dataset name ([`Dataset::name`]).
    pub name: String,
    /// [`fingerprint`] of the samples, 16 hex digits.
    pub fingerprint: String,
    /// Number of samples.
    pub images: usize,
    /// The raw [`Scale`], field by field (`Scale` itself is not serialisable).
    pub scale_lo: f64,
    pub scale_hi: f64,
    pub higher_is_better: bool,
}

impl DatasetInfo {
    /// The description of `ds`.
    pub fn of(ds: &Dataset) -> DatasetInfo {
        DatasetInfo {
            name: ds.name.clone(),
            fingerprint: fingerprint(ds),
            images: ds.samples.len(),
            scale_lo: ds.scale.lo,
            scale_hi: ds.scale.hi,
            higher_is_better: ds.scale.higher_is_better,
        }
    }

    /// The dataset's raw scale, to turn unit scores back into raw ones.
    pub fn scale(&self) -> Scale {
        Scale {
            lo: self.scale_lo,
            hi: self.scale_hi,
            higher_is_better: self.higher_is_better,
        }
    }
}

/// A 64-bit FNV-1a hash, as 16 hex digits, over every sample in order: its path (the
/// components joined by `/`, so the same list hashes alike on every OS), a 0 byte,
/// then the 8 little-endian bytes of its unit label's `f64` bits. Two datasets with
/// the same images, labels and order share it; any change to one of them (a
/// relabelled image, a reorder) changes it with near certainty. Not cryptographic:
/// it detects mistakes, not tampering.
pub fn fingerprint(ds: &Dataset) -> String {
    let mut h = Fnv1a::new();
    for s in &ds.samples {
        let parts: Vec<String> = s
            .path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        h.update(parts.join("/").as_bytes());
        h.update(&[0]);
        h.update(&s.label.to_bits().to_le_bytes());
    }
    format!("{:016x}", h.0)
}

/// FNV-1a, 64-bit (offset basis and prime from the FNV reference).
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Everything in a checkpoint besides the tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Checkpoint format version ([`FORMAT`]); [`load`] refuses any other.
    pub format: u32,
    /// The cprl version that wrote it (`CARGO_PKG_VERSION`).
    pub program_version: String,
    /// The model configuration, enough to rebuild the model.
    pub model: CprlConfig,
    /// The training configuration (opaque here; the trainer owns its schema).
    pub train: serde_json::Value,
    /// The training dataset, when there was one.
    pub dataset: Option<DatasetInfo>,
    /// Optimiser steps taken.
    pub step: u64,
    /// Epochs completed.
    pub epoch: u64,
    /// Trainer state (RNG positions, best metrics ...), opaque here.
    pub extra: serde_json::Value,
}

impl CheckpointMeta {
    /// Metadata of the current format and program version for `model`, with no
    /// training config, dataset or trainer state, at step 0 and epoch 0.
    pub fn new(model: &CprlConfig) -> CheckpointMeta {
        CheckpointMeta {
            format: FORMAT,
            program_version: env!("CARGO_PKG_VERSION").to_string(),
            model: model.clone(),
            train: serde_json::Value::Null,
            dataset: None,
            step: 0,
            epoch: 0,
            extra: serde_json::Value::Null,
        }
    }
}

/// One named F32 tensor of a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<usize>,
    /// Row-major values; `data.len()` is the product of `shape`.
    pub data: Vec<f32>,
}

/// A checkpoint in memory: metadata and tensors (in file order after [`load`]).
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub tensors: Vec<TensorEntry>,
}

impl Checkpoint {
    /// The tensor called `name`, if present.
    pub fn get(&self, name: &str) -> Option<&TensorEntry> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// Writes `ck` to `path` and its JSON sidecar, atomically (see the module header).
/// Creates the parent folder if missing.
pub fn save(path: &Path, ck: &Checkpoint) -> Result<()> {
    save_with(path, ck, &mut |_| Ok(()))
}

/// [`save`] with a hook called once both temporary files are written and synced,
/// just before they are renamed into place, with the checkpoint's temporary path.
/// An error from the hook aborts the save like any other failure: the temporary
/// files are removed and whatever was at `path` stays as it was. Tests use it to
/// interrupt a save; a trainer could use it to check free space or a stop signal.
pub fn save_with(
    path: &Path,
    ck: &Checkpoint,
    before_rename: &mut dyn FnMut(&Path) -> Result<()>,
) -> Result<()> {
    let sidecar = sidecar_path(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    }
    let bytes = serialize(ck).map_err(|e| in_file(path, e))?;
    let pretty = serde_json::to_vec_pretty(&ck.meta)
        .map_err(|e| Error::Invalid(format!("{}: metadata to JSON: {e}", sidecar.display())))?;
    let tmp_main = TempFile::write(path, &bytes)?;
    let tmp_side = TempFile::write(&sidecar, &pretty)?;
    before_rename(&tmp_main.path)?;
    // The safetensors file first: it is what loads; the sidecar only describes it.
    tmp_main.persist(path)?;
    tmp_side.persist(&sidecar)?;
    sync_dir(path);
    Ok(())
}

/// The JSON sidecar of a checkpoint path; refuses a `.json` checkpoint path, whose
/// sidecar would be itself.
pub fn sidecar_path(path: &Path) -> Result<PathBuf> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        return Err(Error::Invalid(format!(
            "{}: a checkpoint path must not end in .json (that name is its metadata \
             sidecar); use .safetensors",
            path.display()
        )));
    }
    Ok(path.with_extension("json"))
}

/// The safetensors bytes of `ck`, with the metadata under [`META_KEY`].
fn serialize(ck: &Checkpoint) -> Result<Vec<u8>> {
    let mut seen = HashSet::new();
    for t in &ck.tensors {
        if !seen.insert(t.name.as_str()) {
            return Err(Error::Invalid(format!("tensor {} appears twice", t.name)));
        }
        if t.data.len() != t.shape.iter().product::<usize>() {
            return Err(Error::Invalid(format!(
                "tensor {}: {} values for shape {:?}",
                t.name,
                t.data.len(),
                t.shape
            )));
        }
    }
    // Explicit little-endian bytes: safetensors is little-endian on every host.
    let bytes: Vec<Vec<u8>> = ck
        .tensors
        .iter()
        .map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = ck
        .tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            TensorView::new(Dtype::F32, t.shape.clone(), b)
                .map(|v| (t.name.clone(), v))
                .map_err(|e| Error::Invalid(format!("tensor {}: {e}", t.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta =
        serde_json::to_string(&ck.meta).map_err(|e| Error::Invalid(format!("metadata to JSON: {e}")))?;
    let info = HashMap::from([(META_KEY.to_string(), meta)]);
    safetensors::serialize(views, Some(info)).map_err(|e| Error::Invalid(format!("safetensors: {e}")))
}

/// Reads a checkpoint: the metadata from the safetensors `__metadata__` (the sidecar
/// is not read), every tensor as F32. Errors name the file and say what is wrong:
/// missing, not a valid safetensors file, no cprl metadata, an unknown format
/// version, an invalid model config, a tensor that is not F32.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let bytes = fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Invalid(format!("checkpoint {} not found", path.display())),
        _ => io_err(path, e),
    })?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        Error::Invalid(format!(
            "{} is not a valid checkpoint (truncated or corrupt?): {e}",
            path.display()
        ))
    })?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| {
        Error::Invalid(format!(
            "{} is not a valid checkpoint (truncated or corrupt?): {e}",
            path.display()
        ))
    })?;
    let text = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{} has no `{META_KEY}` metadata: a safetensors file, but not a cprl checkpoint",
                path.display()
            ))
        })?;
    let meta = parse_meta(text).map_err(|e| in_file(path, e))?;
    // File order (by data offset), which is what the writer sorted them into.
    let mut tensors = Vec::with_capacity(st.len());
    for name in header.offset_keys() {
        let view = st
            .tensor(&name)
            .map_err(|e| in_file(path, Error::Invalid(e.to_string())))?;
        tensors.push(entry_of(&name, &view).map_err(|e| in_file(path, e))?);
    }
    Ok(Checkpoint { meta, tensors })
}

/// The metadata JSON: the format version is checked before the rest is parsed, so a
/// newer file says "unknown format" rather than naming a field this build lacks.
fn parse_meta(text: &str) -> Result<CheckpointMeta> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::Invalid(format!("metadata is not valid JSON: {e}")))?;
    match value.get("format").and_then(serde_json::Value::as_u64) {
        Some(f) if f == u64::from(FORMAT) => {}
        Some(f) => {
            return Err(Error::Invalid(format!(
                "unknown checkpoint format version {f} (this cprl {} reads version {FORMAT})",
                env!("CARGO_PKG_VERSION")
            )));
        }
        None => return Err(Error::Invalid("metadata has no format version".into())),
    }
    let meta: CheckpointMeta =
        serde_json::from_value(value).map_err(|e| Error::Invalid(format!("metadata: {e}")))?;
    meta.model
        .validate()
        .map_err(|e| Error::Invalid(format!("the checkpoint's model config is invalid: {e}")))?;
    Ok(meta)
}

/// A safetensors view as an entry; only F32 is accepted.
fn entry_of(name: &str, view: &TensorView<'_>) -> Result<TensorEntry> {
    if view.dtype() != Dtype::F32 {
        return Err(Error::Invalid(format!(
            "tensor {name} has dtype {:?}; cprl checkpoints hold F32 only",
            view.dtype()
        )));
    }
    let data = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(TensorEntry {
        name: name.to_string(),
        shape: view.shape().to_vec(),
        data,
    })
}

/// The module's parameters then buffers (each in the module's order), downloaded and
/// named `{prefix}.{name}`.
pub fn module_entries(prefix: &str, m: &dyn Module) -> Result<Vec<TensorEntry>> {
    named_tensors(m)
        .into_iter()
        .map(|(name, t)| {
            Ok(TensorEntry {
                name: format!("{prefix}.{name}"),
                shape: t.shape().to_vec(),
                data: t.to_vec()?,
            })
        })
        .collect()
}

/// Writes the checkpoint's `{prefix}.*` tensors into the module's parameters and
/// buffers in place. Everything is checked first (each needed tensor present, with
/// the module's shape; no extra tensor under the prefix), so on error the module is
/// unchanged. Errors name the tensors but not the file, which the caller knows
/// ([`load_model`] adds it).
pub fn load_module(prefix: &str, m: &dyn Module, ck: &Checkpoint) -> Result<()> {
    let wanted = named_tensors(m);
    let by_name = entries_under(prefix, ck);
    let missing: Vec<String> = wanted
        .iter()
        .map(|(n, _)| format!("{prefix}.{n}"))
        .filter(|n| !by_name.contains_key(n.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Invalid(format!(
            "the checkpoint lacks {} tensor(s) the model needs: {}",
            missing.len(),
            first_names(&missing)
        )));
    }
    for (n, t) in &wanted {
        let e = by_name[format!("{prefix}.{n}").as_str()];
        if e.shape != t.shape() {
            return Err(Error::Invalid(format!(
                "{}: checkpoint has {:?}, the model config needs {:?}",
                e.name,
                e.shape,
                t.shape()
            )));
        }
    }
    let known: HashSet<String> = wanted.iter().map(|(n, _)| format!("{prefix}.{n}")).collect();
    let mut extra: Vec<String> = by_name
        .keys()
        .filter(|n| !known.contains(**n))
        .map(|n| n.to_string())
        .collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(Error::Invalid(format!(
            "the checkpoint has {} tensor(s) under `{prefix}.` that the model does not: {}",
            extra.len(),
            first_names(&extra)
        )));
    }
    for (n, t) in &wanted {
        t.write(&by_name[format!("{prefix}.{n}").as_str()].data)?;
    }
    Ok(())
}

/// The optimiser's state of `params` ([`Optimizer::state_dict`]), each entry named
/// `{prefix}.{key}` with shape `[len]`.
pub fn optimizer_entries(prefix: &str, opt: &dyn Optimizer, params: &[Tensor]) -> Result<Vec<TensorEntry>> {
    Ok(opt
        .state_dict(params)?
        .into_iter()
        .map(|(key, data)| TensorEntry {
            name: format!("{prefix}.{key}"),
            shape: vec![data.len()],
            data,
        })
        .collect())
}

/// Replaces the optimiser's state of `params` with the checkpoint's `{prefix}.*`
/// entries ([`Optimizer::load_state_dict`], which checks keys and lengths).
pub fn load_optimizer(
    prefix: &str,
    opt: &mut dyn Optimizer,
    params: &[Tensor],
    ck: &Checkpoint,
) -> Result<()> {
    let head = format!("{prefix}.");
    let state: Vec<(String, Vec<f32>)> = ck
        .tensors
        .iter()
        .filter_map(|t| {
            t.name
                .strip_prefix(&head)
                .map(|k| (k.to_string(), t.data.clone()))
        })
        .collect();
    opt.load_state_dict(params, &state)
}

/// Loads a checkpoint and the model it holds: built from `meta.model` (the seed is
/// irrelevant, every value is overwritten) with the `model.*` tensors loaded.
pub fn load_model(gpu: &Arc<Gpu>, path: &Path) -> Result<(Cprl, Checkpoint)> {
    let ck = load(path)?;
    let model = Cprl::new(gpu, &ck.meta.model, 0).map_err(|e| in_file(path, e))?;
    load_module(MODEL_PREFIX, &model, &ck).map_err(|e| in_file(path, e))?;
    Ok((model, ck))
}

/// Parameters then buffers, with their names.
fn named_tensors(m: &dyn Module) -> Vec<(String, Tensor)> {
    let mut v = m.params();
    v.extend(m.buffers());
    v
}

/// The checkpoint's entries whose names start with `{prefix}.`, by name.
fn entries_under<'a>(prefix: &str, ck: &'a Checkpoint) -> HashMap<&'a str, &'a TensorEntry> {
    let head = format!("{prefix}.");
    ck.tensors
        .iter()
        .filter(|t| t.name.starts_with(&head))
        .map(|t| (t.name.as_str(), t))
        .collect()
}

/// Up to five names, then how many more.
fn first_names(names: &[String]) -> String {
    let mut s = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 5 {
        s.push_str(&format!(" and {} more", names.len() - 5));
    }
    s
}

/// `e` with the file named in front.
fn in_file(path: &Path, e: Error) -> Error {
    Error::Invalid(format!("{}: {e}", path.display()))
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Distinguishes temporary files of saves running at once in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file beside its target, removed on drop unless persisted.
struct TempFile {
    path: PathBuf,
    done: bool,
}

impl TempFile {
    /// Writes `bytes` to `.{name}.{pid}.{n}.tmp` beside `target`, flushed and synced.
    /// The leading dot hides it from listings and globs like `*.safetensors`; the pid
    /// and counter keep concurrent savers apart.
    fn write(target: &Path, bytes: &[u8]) -> Result<TempFile> {
        let name = target
            .file_name()
            .ok_or_else(|| Error::Invalid(format!("{}: not a file path", target.display())))?;
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp_name = format!(".{}.{}.{n}.tmp", name.to_string_lossy(), std::process::id());
        let tmp = TempFile {
            path: target.with_file_name(tmp_name),
            done: false,
        };
        let mut f = File::create(&tmp.path).map_err(|e| io_err(&tmp.path, e))?;
        f.write_all(bytes).map_err(|e| io_err(&tmp.path, e))?;
        f.flush().map_err(|e| io_err(&tmp.path, e))?;
        f.sync_all().map_err(|e| io_err(&tmp.path, e))?;
        Ok(tmp)
    }

    /// Renames the file over `target`.
    fn persist(mut self, target: &Path) -> Result<()> {
        fs::rename(&self.path, target).map_err(|e| io_err(target, e))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Syncs the folder holding `path`, so that the renames survive a power cut; best
/// effort (not every platform can open a folder).
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

//! Checkpoints (`train::checkpoint`): a tiny model's parameters and buffers and an
//! Adam state survive a save and a load bit for bit (and the loaded model scores
//! alike); every damaged or mismatched checkpoint is refused with an error naming
//! the file or the tensor; an interrupted save leaves no partial or temporary file
//! and the previous checkpoint whole.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use cprl::data::{Dataset, Sample, Scale};
use cprl::nn::{Cprl, CprlConfig, Module};
use cprl::ops::loss::mse;
use cprl::ops::optim::{Adam, AdamConfig, Optimizer};
use cprl::train::checkpoint::{
    self, Checkpoint, CheckpointMeta, DatasetInfo, TensorEntry, load, load_model, load_module,
    load_optimizer, module_entries, optimizer_entries, save, save_with,
};
use cprl::{Error, Tensor, autograd};

/// A batch of 4 random 16 x 16 images in [0, 1].
fn images(salt: u64) -> Tensor {
    let v = rand_range(salt, 4 * 3 * 16 * 16, 0.0, 1.0);
    Tensor::from_slice(&gpu(), &v, &[4, 3, 16, 16]).unwrap()
}

/// A tiny model whose running statistics have moved off their initial values (one
/// training-mode forward), so the buffers are worth checking.
fn trained_tiny(seed: u64) -> Cprl {
    let model = Cprl::new(&gpu(), &CprlConfig::tiny(), seed).unwrap();
    let _g = autograd::no_grad();
    model.forward(&images(7), true).unwrap();
    model
}

fn model_checkpoint(model: &Cprl) -> Checkpoint {
    Checkpoint {
        meta: CheckpointMeta::new(&model.config),
        tensors: module_entries("model", model).unwrap(),
    }
}

fn values(m: &dyn Module) -> Vec<(String, Vec<u32>)> {
    let mut all = m.params();
    all.extend(m.buffers());
    all.into_iter()
        .map(|(n, t)| (n, t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

fn eval_scores(model: &Cprl, x: &Tensor) -> Vec<u32> {
    let _g = autograd::no_grad();
    let s = model.forward(x, false).unwrap().score.to_vec().unwrap();
    s.iter().map(|v| v.to_bits()).collect()
}

fn message(r: Result<impl Sized, Error>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "error {msg:?} should mention {p:?}");
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn ck_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ck.safetensors")
}

#[test]
fn checkpoint_round_trip_is_bit_exact_and_scores_alike() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    let model = trained_tiny(1);
    let mut ck = model_checkpoint(&model);
    ck.meta.step = 17;
    ck.meta.epoch = 2;
    ck.meta.extra = serde_json::json!({"best_srocc": 0.5});
    save(&path, &ck).unwrap();

    let (loaded, back) = load_model(&gpu(), &path).unwrap();
    assert_eq!(values(&loaded), values(&model));
    assert_eq!(back.tensors.len(), ck.tensors.len());
    assert_eq!((back.meta.step, back.meta.epoch), (17, 2));
    assert_eq!(back.meta.extra, ck.meta.extra);
    assert_eq!(back.meta.model, model.config);
    let x = images(11);
    assert_eq!(eval_scores(&loaded, &x), eval_scores(&model, &x));

    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap()).unwrap();
    assert_eq!(sidecar["step"], 17);
    assert_eq!(sidecar["format"], checkpoint::FORMAT);
    assert_eq!(files_in(dir.path()), ["ck.json", "ck.safetensors"]);
}

#[test]
fn checkpoint_adam_state_round_trip_after_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    let model = Cprl::new(&gpu(), &CprlConfig::tiny(), 3).unwrap();
    let params = model.param_tensors();
    let mut adam = Adam::new(AdamConfig::adam(1e-3));
    let y = Tensor::from_slice(&gpu(), &[0.1, 0.4, 0.6, 0.9], &[4]).unwrap();
    let out = model.forward(&images(5), true).unwrap();
    let grads = autograd::backward(&mse(&out.score, &y).unwrap()).unwrap();
    adam.step(&params, &grads).unwrap();

    let mut ck = model_checkpoint(&model);
    ck.tensors
        .extend(optimizer_entries("optim", &adam, &params).unwrap());
    save(&path, &ck).unwrap();

    let (loaded, back) = load_model(&gpu(), &path).unwrap();
    let loaded_params = loaded.param_tensors();
    let mut fresh = Adam::new(AdamConfig::adam(1e-3));
    load_optimizer("optim", &mut fresh, &loaded_params, &back).unwrap();
    let want = adam.state_dict(&params).unwrap();
    assert!(!want.is_empty(), "one step leaves a state");
    assert_eq!(fresh.state_dict(&loaded_params).unwrap(), want);
    assert_eq!(fresh.steps(&loaded_params[0]), 1);
}

#[test]
fn checkpoint_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.safetensors");
    assert_mentions(&message(load(&path)), &["nope.safetensors", "not found"]);
}

#[test]
fn checkpoint_truncated_or_corrupt_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    save(&path, &model_checkpoint(&trained_tiny(1))).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_mentions(
        &message(load(&path)),
        &["ck.safetensors", "not a valid checkpoint (truncated or corrupt?)"],
    );
    std::fs::write(&path, b"this is no checkpoint").unwrap();
    assert_mentions(
        &message(load(&path)),
        &["ck.safetensors", "not a valid checkpoint"],
    );
}

#[test]
fn checkpoint_missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    let mut ck = model_checkpoint(&trained_tiny(1));
    ck.tensors.retain(|t| t.name != "model.head.fc2.bias");
    save(&path, &ck).unwrap();
    assert_mentions(
        &message(load_model(&gpu(), &path)),
        &["ck.safetensors", "lacks 1 tensor", "model.head.fc2.bias"],
    );
}

#[test]
fn checkpoint_shape_mismatch_names_tensor_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    let wide = CprlConfig {
        stages: vec![8, 8],
        ..CprlConfig::tiny()
    };
    let wide_model = Cprl::new(&gpu(), &wide, 1).unwrap();
    let mut ck = model_checkpoint(&wide_model);
    ck.meta.model = CprlConfig::tiny();
    save(&path, &ck).unwrap();
    assert_mentions(
        &message(load_model(&gpu(), &path)),
        &[
            "ck.safetensors",
            "model.stage0.conv0.weight: checkpoint has [8, 3, 3, 3], the model config needs [4, 3, 3, 3]",
        ],
    );
}

#[test]
fn checkpoint_extra_tensors_are_named_and_the_module_is_untouched() {
    let model = trained_tiny(1);
    let mut ck = model_checkpoint(&model);
    for i in 0..7 {
        ck.tensors.push(TensorEntry {
            name: format!("model.extra{i}"),
            shape: vec![1],
            data: vec![0.0],
        });
    }
    // Tensors under another prefix are none of the module's business.
    ck.tensors.push(TensorEntry {
        name: "optim.0.step".into(),
        shape: vec![1],
        data: vec![1.0],
    });
    let other = Cprl::new(&gpu(), &CprlConfig::tiny(), 9).unwrap();
    let before = values(&other);
    let msg = message(load_module("model", &other, &ck));
    assert_mentions(
        &msg,
        &[
            "7 tensor(s) under `model.`",
            "model.extra0",
            "model.extra4",
            "2 more",
        ],
    );
    assert!(!msg.contains("model.extra5"), "at most five names: {msg}");
    assert!(!msg.contains("optim"), "{msg}");
    assert_eq!(values(&other), before, "a refused load writes nothing");
}

#[test]
fn checkpoint_non_f32_tensor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    let meta = serde_json::to_string(&CheckpointMeta::new(&CprlConfig::tiny())).unwrap();
    let data = [0u8; 4];
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![2], &data).unwrap();
    let info = HashMap::from([(checkpoint::META_KEY.to_string(), meta)]);
    let bytes = safetensors::serialize([("model.half", view)], Some(info)).unwrap();
    std::fs::write(&path, bytes).unwrap();
    assert_mentions(
        &message(load(&path)),
        &["ck.safetensors", "model.half", "F16", "F32"],
    );
}

#[test]
fn checkpoint_unknown_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    let mut ck = model_checkpoint(&trained_tiny(1));
    ck.meta.format = 99;
    save(&path, &ck).unwrap();
    assert_mentions(
        &message(load(&path)),
        &["ck.safetensors", "unknown checkpoint format version 99"],
    );
}

#[test]
fn checkpoint_invalid_model_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    let mut ck = model_checkpoint(&trained_tiny(1));
    ck.meta.model.stages.clear();
    save(&path, &ck).unwrap();
    assert_mentions(
        &message(load(&path)),
        &["ck.safetensors", "model config", "stages is empty"],
    );
}

#[test]
fn checkpoint_without_cprl_metadata_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    let data = [0u8; 4];
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &data).unwrap();
    std::fs::write(&path, safetensors::serialize([("w", view)], None).unwrap()).unwrap();
    assert_mentions(
        &message(load(&path)),
        &["ck.safetensors", "not a cprl checkpoint"],
    );
}

#[test]
fn checkpoint_interrupted_save_leaves_previous_checkpoint_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = ck_path(&dir);
    let mut first = model_checkpoint(&trained_tiny(1));
    first.meta.step = 1;
    save(&path, &first).unwrap();
    let before = std::fs::read(&path).unwrap();
    let sidecar_before = std::fs::read(path.with_extension("json")).unwrap();

    let mut second = model_checkpoint(&trained_tiny(2));
    second.meta.step = 2;
    let mut seen_temp = None;
    let r = save_with(&path, &second, &mut |tmp| {
        assert!(tmp.exists(), "the hook runs with the temporary file written");
        assert!(tmp.file_name().unwrap().to_string_lossy().starts_with('.'));
        seen_temp = Some(tmp.to_path_buf());
        Err(Error::Invalid("simulated crash before rename".into()))
    });
    assert_mentions(&message(r), &["simulated crash"]);
    assert!(!seen_temp.unwrap().exists());
    assert_eq!(files_in(dir.path()), ["ck.json", "ck.safetensors"]);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        std::fs::read(path.with_extension("json")).unwrap(),
        sidecar_before
    );
    assert_eq!(load(&path).unwrap().meta.step, 1);

    // An interrupted first save leaves nothing at all.
    let fresh = dir.path().join("new.safetensors");
    let r = save_with(&fresh, &second, &mut |_| Err(Error::Invalid("stop".into())));
    assert!(r.is_err());
    assert_eq!(files_in(dir.path()), ["ck.json", "ck.safetensors"]);
}

#[test]
fn checkpoint_json_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let r = save(&dir.path().join("ck.json"), &model_checkpoint(&trained_tiny(1)));
    assert_mentions(&message(r), &["ck.json", ".safetensors"]);
}

#[test]
fn dataset_fingerprint_follows_paths_labels_and_order() {
    let ds = |samples: Vec<Sample>| Dataset {
        name: "t".into(),
        root: PathBuf::from("/data"),
        scale: Scale {
            lo: 1.0,
            hi: 5.0,
            higher_is_better: false,
        },
        samples,
    };
    let a = ds(vec![Sample::new("a.png", 0.25), Sample::new("b.png", 0.5)]);
    let info = DatasetInfo::of(&a);
    assert_eq!(info.fingerprint.len(), 16);
    assert_eq!(info.images, 2);
    assert_eq!(info.scale(), a.scale);
    assert_eq!(DatasetInfo::of(&a.clone()).fingerprint, info.fingerprint);
    let relabelled = ds(vec![Sample::new("a.png", 0.25), Sample::new("b.png", 0.5000001)]);
    let reordered = ds(vec![Sample::new("b.png", 0.5), Sample::new("a.png", 0.25)]);
    let renamed = ds(vec![Sample::new("a.png", 0.25), Sample::new("c.png", 0.5)]);
    for other in [relabelled, reordered, renamed] {
        assert_ne!(DatasetInfo::of(&other).fingerprint, info.fingerprint);
    }
}

//! Matmul rows: square GEMMs and the GEMMs of the small CNN of docs/METHOD.md section 6
//! (batch 32, 3x224x224, three stride-2 3x3 convs 3-32-64-128) run as im2col, for
//! every version. Validation samples output elements against the f64 reference (a
//! full reference product of these sizes takes minutes). Peak for comparison on the
//! 2-core lavapipe machine: native AVX-512 GEMM code reaches ~95 GFLOP/s
//! (WGPU-NOTES.md); the goal for V4 there is 45 at 512^3.

use cprl::Tensor;
use cprl::ops::matmul::{self as mm, Bias, GemmDims, MatmulVersion};

use crate::harness::{Case, Harness, rand};

/// (name, m, n, k, trans_a, trans_b). The conv rows: forward `cols [P, C*9] x W^T`
/// (W stored `[Cout, C*9]`), backward-data `dOut [P, Cout] x W`, backward-weight
/// `cols^T dOut` (`[C*9, Cout]`, K = P = batch * OH * OW) and `dOut^T cols`.
const SHAPES: &[(&str, usize, usize, usize, bool, bool)] = &[
    ("square", 512, 512, 512, false, false),
    ("square", 1024, 1024, 1024, false, false),
    ("conv2 fwd", 100_352, 64, 288, false, true),
    ("conv2 bwd-data", 100_352, 288, 64, false, false),
    ("conv2 bwd-weight", 288, 64, 100_352, true, false),
    ("conv2 bwd-weight", 64, 288, 100_352, true, false),
    ("conv1 fwd", 401_408, 32, 27, false, true),
    ("conv1 bwd-weight", 27, 32, 401_408, true, false),
    ("conv3 fwd", 25_088, 128, 576, false, true),
    ("conv3 bwd-data", 25_088, 576, 128, false, false),
    ("conv3 bwd-weight", 576, 128, 25_088, true, false),
];

const VERSIONS: &[MatmulVersion] = &[
    MatmulVersion::V1,
    MatmulVersion::V2,
    MatmulVersion::V3,
    MatmulVersion::V4,
    MatmulVersion::Auto,
];

/// Compares sampled outputs with f64 dot products, within the tests' tolerance.
fn validate(c: &[f32], av: &[f32], bv: &[f32], d: &GemmDims) -> Result<(), String> {
    let total = d.m * d.n;
    let samples = 997.min(total);
    for s in 0..samples + 2 {
        // Spread over the matrix, plus the first and the last element.
        let e = match s {
            0 => 0,
            1 => total - 1,
            _ => (s * 7919 * 104_729) % total,
        };
        let (i, j) = (e / d.n, e % d.n);
        let want: f64 = (0..d.k)
            .map(|kk| av[d.a_index(0, i, kk)] as f64 * bv[d.b_index(0, kk, j)] as f64)
            .sum();
        cprl::reference::matmul::tolerance(d.k)
            .check(&c[e..e + 1], &[want])
            .map_err(|m| format!("[{i}, {j}]: {m}"))?;
    }
    Ok(())
}

pub fn bench(h: &mut Harness) {
    if !h.wants("matmul") {
        return;
    }
    let gpu = h.gpu.clone();
    let shapes = if h.quick { &SHAPES[..3] } else { SHAPES };
    for &(name, m, n, k, ta, tb) in shapes {
        let sa = if ta { [k, m] } else { [m, k] };
        let sb = if tb { [n, k] } else { [k, n] };
        let (av, bv) = (rand(11, m * k), rand(12, k * n));
        let a = Tensor::from_slice(&gpu, &av, &sa).unwrap();
        let b = Tensor::from_slice(&gpu, &bv, &sb).unwrap();
        let (d, _) = GemmDims::of_shapes("bench", &sa, &sb, ta, tb).unwrap();
        for &v in VERSIONS {
            if v != MatmulVersion::Auto && !mm::version_available(&gpu, v) {
                continue;
            }
            let variant = match v {
                MatmulVersion::Auto => match mm::auto_version(&a, &b, ta, tb) {
                    Ok(c) => format!("Auto={c:?}"),
                    Err(e) => format!("Auto ({e})"),
                },
                _ => format!("{v:?}"),
            };
            let case = Case {
                op: "matmul",
                shape: format!(
                    "{name} {m}x{n}x{k}{}{}",
                    if ta { " tA" } else { "" },
                    if tb { " tB" } else { "" }
                ),
                variant,
                // one multiply-add = 2 flops per (m, n, k)
                flops: d.flops(),
                // A and B read once, C written once (lower bound on traffic)
                bytes: 4.0 * (m * k + k * n + m * n) as f64,
                elems: 0.0,
            };
            let run = || mm::gemm_with(&a, &b, ta, tb, Bias::None, None, v).map(drop);
            let check = || {
                let c = mm::gemm_with(&a, &b, ta, tb, Bias::None, None, v).map_err(|e| e.to_string())?;
                validate(&c.to_vec().map_err(|e| e.to_string())?, &av, &bv, &d)
            };
            h.run(case, check, run, None);
        }
    }
}

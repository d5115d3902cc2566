//! Rows for the pairwise and sorting-network soft ranks, the hard sort, the CPR gate
//! and SortMask. Every variant is validated against the f64 reference before timing
//! (on the first rows only where the reference would take minutes: rows are
//! independent, so the first ones stand for all).
//!
//!     cargo bench --bench kernels -- softrank.pairwise softrank.network sort. gate sortmask
//!
//! Shapes: pairwise and network at B in {1, 64, 256} x n in {64, 256, 1024, 4096}
//! (`--quick`: B = 64, n in {256, 1024}); sort at the same sizes; the gate at
//! [256, 512]; SortMask at [32, 64, 56, 56].
//! FLOP counts are nominal: one sigmoid term = 8 FLOP (sub, mul, abs, exp, add, div,
//! select, add), its backward term 12; one relaxed comparator = 12 forward (load,
//! alpha, two mixes), 24 backward. Sort and the elementwise kernels report bytes.

use cprl::Tensor;
use cprl::autograd;
use cprl::ops::gate::{GateConfig, GateKey, cpr_gate};
use cprl::ops::softrank::network::{self as nw, NetworkOptions};
use cprl::ops::softrank::pairwise::{self as pw, PairwiseVersion};
use cprl::ops::softrank::sort as hs;
use cprl::ops::softrank::{Method, NetworkKind, Order, Relaxation};
use cprl::ops::sortmask::{SortMaskConfig, SortMaskVersion, sortmask, sortmask_apply, sortmask_deviation};
use cprl::ops::{elementwise as ew, reduce};
use cprl::reference::gate::{GateRefConfig, cpr_gate_backward_ref, cpr_gate_ref, tolerance as gate_tol};
use cprl::reference::softrank::network as rnw;
use cprl::reference::softrank::pairwise as rpw;
use cprl::reference::softrank::sort as rs;
use cprl::reference::sortmask::{
    SortMaskRefConfig, sortmask_backward_ref, sortmask_ref, tolerance as mask_tol,
};

use crate::harness::{Case, Harness, Tolerance, Validation, check, rand};

/// Rows validated against the reference.
const CHECK_ROWS: usize = 2;

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn err(e: cprl::Error) -> String {
    e.to_string()
}

fn sizes(h: &Harness) -> (Vec<usize>, Vec<usize>) {
    if h.quick {
        (vec![64], vec![256, 1024])
    } else {
        (vec![1, 64, 256], vec![64, 256, 1024, 4096])
    }
}

/// The first `rows` rows of a [.., n] host vector.
fn head(v: &[f64], rows: usize, n: usize) -> &[f64] {
    &v[..rows * n]
}

/// Whether any of the ops of a group was asked for.
fn wants_any(h: &Harness, ops: &[&str]) -> bool {
    ops.iter().any(|op| h.wants(op))
}

pub fn bench(h: &mut Harness) {
    if wants_any(h, &["softrank.pairwise.fwd", "softrank.pairwise.fwd+bwd"]) {
        pairwise(h);
    }
    if wants_any(h, &["softrank.network.fwd", "softrank.network.fwd+bwd"]) {
        network(h);
    }
    if wants_any(h, &["sort.argsort", "sort.values+indices"]) {
        sort(h);
    }
    if wants_any(h, &["gate.fwd", "gate.fwd+bwd"]) {
        gate(h);
    }
    if wants_any(
        h,
        &[
            "sortmask.fwd",
            "sortmask.fwd+bwd",
            "sortmask.glue.fwd",
            "sortmask.glue.fwd+bwd",
        ],
    ) {
        sortmask_rows(h);
    }
}

fn pairwise(h: &mut Harness) {
    let (bs, ns) = sizes(h);
    let strength = 0.1f32;
    let order = Order::Ascending;
    for &n in &ns {
        for &b in &bs {
            let gpu = h.gpu.clone();
            let (xv, gv) = (rand(21, b * n), rand(22, b * n));
            let x = Tensor::from_slice(&gpu, &xv, &[b, n]).unwrap();
            let g = Tensor::from_slice(&gpu, &gv, &[b, n]).unwrap();
            let rows = CHECK_ROWS.min(b);
            let (x64, g64) = (f64s(&xv[..rows * n]), f64s(&gv[..rows * n]));
            let want = rpw::soft_rank_pairwise_ref(&x64, n, strength as f64, order);
            let mut dwant = vec![0.0; rows * n];
            rpw::soft_rank_pairwise_backward_ref(&x64, n, strength as f64, order, &g64, &mut dwant);
            let terms = (b * n * n) as f64;
            for v in [
                PairwiseVersion::V1,
                PairwiseVersion::V2,
                PairwiseVersion::V3,
                PairwiseVersion::Auto,
            ] {
                if v == PairwiseVersion::V1 && terms > (1u64 << 28) as f64 {
                    // The naive port at 2^28+ terms takes minutes for the repeats.
                    continue;
                }
                for with_backward in [false, true] {
                    let case = Case {
                        op: if with_backward {
                            "softrank.pairwise.fwd+bwd"
                        } else {
                            "softrank.pairwise.fwd"
                        },
                        shape: format!("B={b} n={n}"),
                        variant: format!("{v:?}"),
                        flops: terms * if with_backward { 20.0 } else { 8.0 },
                        bytes: 0.0,
                        elems: (b * n) as f64,
                    };
                    let validate = || -> Validation {
                        let r = pw::pairwise_forward(&x, strength, order, v)
                            .map_err(err)?
                            .to_vec()
                            .map_err(err)?;
                        check(&r[..rows * n], &want, rpw::tolerance::ranks(n))
                            .map_err(|e| format!("ranks: {e}"))?;
                        if with_backward {
                            let d = pw::pairwise_backward(&x, &g, strength, order, v).map_err(err)?;
                            let d = d.to_vec().map_err(err)?;
                            check(&d[..rows * n], &dwant, rpw::tolerance::backward(&dwant))
                                .map_err(|e| format!("dx: {e}"))?;
                        }
                        Ok(())
                    };
                    if !h.wants(case.op) {
                        continue;
                    }
                    h.run(
                        case,
                        validate,
                        || {
                            pw::pairwise_forward(&x, strength, order, v)?;
                            if with_backward {
                                pw::pairwise_backward(&x, &g, strength, order, v)?;
                            }
                            Ok(())
                        },
                        None,
                    );
                }
            }
        }
    }
}

fn network(h: &mut Harness) {
    let (bs, ns) = sizes(h);
    let strength = 0.1f32;
    let order = Order::Ascending;
    let combos = [
        (NetworkKind::Bitonic, Relaxation::Logistic),
        (NetworkKind::Bitonic, Relaxation::Cauchy),
        (NetworkKind::OddEven, Relaxation::Logistic),
    ];
    for &n in &ns {
        for &b in &bs {
            let gpu = h.gpu.clone();
            let (xv, gv) = (rand(31, b * n), rand(32, b * n));
            let x = Tensor::from_slice(&gpu, &xv, &[b, n]).unwrap();
            let g = Tensor::from_slice(&gpu, &gv, &[b, n]).unwrap();
            let rows = CHECK_ROWS.min(b);
            let (x64, g64) = (f64s(&xv[..rows * n]), f64s(&gv[..rows * n]));
            for (kind, relax) in combos {
                if kind == NetworkKind::OddEven && b * n * n > 64 * 1024 * 1024 {
                    // Odd-even is O(n^2) per row: B = 256 at n = 4096 is 2G comparators
                    // per sweep (minutes for the repeats); B = 64 stands for it.
                    continue;
                }
                let (layers, pairs) = rnw::network_size(kind, n);
                let comparators: f64 = (0..layers)
                    .map(|l| {
                        (0..pairs)
                            .filter(|&c| rnw::comparator(kind, n, l, c).is_some())
                            .count() as f64
                    })
                    .sum::<f64>()
                    * b as f64;
                let (want, saved) = rnw::soft_rank_network_ref(&x64, n, kind, relax, strength as f64, order);
                let mut dwant = vec![0.0; rows * n];
                rnw::soft_rank_network_backward_ref(
                    &saved,
                    n,
                    kind,
                    relax,
                    strength as f64,
                    order,
                    &g64,
                    &mut dwant,
                );
                let opts = NetworkOptions::default();
                for with_backward in [false, true] {
                    let case = Case {
                        op: if with_backward {
                            "softrank.network.fwd+bwd"
                        } else {
                            "softrank.network.fwd"
                        },
                        shape: format!("B={b} n={n}"),
                        variant: format!("{kind:?}/{relax:?}"),
                        // fwd: sweep + segment recompute + rank walk; bwd: the same with g and p.
                        flops: comparators * if with_backward { 36.0 + 48.0 } else { 36.0 },
                        bytes: 0.0,
                        elems: (b * n) as f64,
                    };
                    let validate = || -> Validation {
                        let r = nw::network_forward(&x, kind, relax, strength, order, &opts).map_err(err)?;
                        let r = r.to_vec().map_err(err)?;
                        check(&r[..rows * n], &want, rnw::tolerance::ranks(n, layers))
                            .map_err(|e| format!("ranks: {e}"))?;
                        if with_backward {
                            let d = nw::network_backward(&x, &g, kind, relax, strength, order, &opts)
                                .map_err(err)?;
                            let d = d.to_vec().map_err(err)?;
                            let tol = rnw::tolerance::backward(&dwant, kind, relax, layers);
                            check(&d[..rows * n], &dwant, tol).map_err(|e| format!("dx: {e}"))?;
                        }
                        Ok(())
                    };
                    if !h.wants(case.op) {
                        continue;
                    }
                    h.run(
                        case,
                        validate,
                        || {
                            nw::network_forward(&x, kind, relax, strength, order, &opts)?;
                            if with_backward {
                                nw::network_backward(&x, &g, kind, relax, strength, order, &opts)?;
                            }
                            Ok(())
                        },
                        None,
                    );
                }
            }
        }
    }
}

fn sort(h: &mut Harness) {
    let (bs, ns) = sizes(h);
    for &n in &ns {
        for &b in &bs {
            let gpu = h.gpu.clone();
            let xv = rand(41, b * n);
            let x = Tensor::from_slice(&gpu, &xv, &[b, n]).unwrap();
            let x64 = f64s(&xv);
            let perm: Vec<f64> = rs::argsort_ref(&x64, n, Order::Descending)
                .iter()
                .map(|&i| i as f64)
                .collect();
            let vals: Vec<f64> = rs::top_k_ref(&x64, n, n, Order::Descending).0;
            for what in ["argsort", "sort"] {
                let case = Case {
                    op: if what == "sort" {
                        "sort.values+indices"
                    } else {
                        "sort.argsort"
                    },
                    shape: format!("B={b} n={n}"),
                    variant: "V1".into(),
                    flops: 0.0,
                    // x in; (key, index) pairs written once and read once per layer are
                    // not counted; outputs 4 B each.
                    bytes: (b * n) as f64 * if what == "sort" { 12.0 } else { 8.0 },
                    elems: (b * n) as f64,
                };
                let validate = || -> Validation {
                    if what == "sort" {
                        let s = hs::sort(&x, Order::Descending).map_err(err)?;
                        check(&s.values.to_vec().map_err(err)?, &vals, Tolerance::EXACT)?;
                        check(&s.indices.to_vec().map_err(err)?, &perm, Tolerance::EXACT)
                    } else {
                        check(
                            &hs::argsort(&x, Order::Descending)
                                .map_err(err)?
                                .to_vec()
                                .map_err(err)?,
                            &perm,
                            Tolerance::EXACT,
                        )
                    }
                };
                let mut cpu = || {
                    std::hint::black_box(rs::argsort_ref(&x64, n, Order::Descending));
                };
                if !h.wants(case.op) {
                    continue;
                }
                h.run(
                    case,
                    validate,
                    || {
                        if what == "sort" {
                            hs::sort(&x, Order::Descending).map(drop)
                        } else {
                            hs::argsort(&x, Order::Descending).map(drop)
                        }
                    },
                    Some(&mut cpu),
                );
            }
        }
    }
}

fn gate(h: &mut Harness) {
    let (b, ch) = (256, 512);
    let gpu = h.gpu.clone();
    let zv: Vec<f32> = rand(51, b * ch).iter().map(|v| v + 1.0).collect();
    let wv: Vec<f32> = rand(52, ch).iter().map(|v| 0.85 + 0.65 * v).collect();
    let grads: Vec<Vec<f32>> = (0..3).map(|i| rand(53 + i, b * ch)).collect();
    let z = Tensor::from_slice(&gpu, &zv, &[b, ch]).unwrap().requires_grad_();
    let w = Tensor::from_slice(&gpu, &wv, &[ch]).unwrap();
    let gt: Vec<Tensor> = grads
        .iter()
        .map(|g| Tensor::from_slice(&gpu, g, &[b, ch]).unwrap())
        .collect();
    let rows = CHECK_ROWS;
    let (z64, w64) = (f64s(&zv[..rows * ch]), f64s(&wv));
    let g64: Vec<Vec<f64>> = grads.iter().map(|g| f64s(&g[..rows * ch])).collect();
    let methods = [
        ("pairwise", Method::Pairwise),
        (
            "bitonic",
            Method::Network {
                kind: NetworkKind::Bitonic,
                relaxation: Relaxation::Logistic,
            },
        ),
    ];
    for (name, method) in methods {
        for weighted in [false, true] {
            let cfg = GateConfig {
                rho: 0.25,
                temperature: 0.05,
                method,
                strength: 0.1,
                key: if weighted {
                    GateKey::WeightedAbs(w.clone())
                } else {
                    GateKey::Z
                },
            };
            let rcfg = GateRefConfig {
                rho: 0.25,
                temperature: 0.05,
                method,
                strength: 0.1,
                weights: weighted.then_some(&w64[..]),
            };
            let fwd = cpr_gate_ref(&z64, ch, &rcfg);
            let mut dz = vec![0.0; rows * ch];
            cpr_gate_backward_ref(&z64, ch, &rcfg, &fwd, &g64[0], &g64[1], &g64[2], &mut dz, None);
            let loss = |c: &Tensor, n: &Tensor, m: &Tensor| -> cprl::Result<Tensor> {
                let s = |a: &Tensor, g: &Tensor| reduce::sum(&ew::mul(a, g)?);
                ew::add(&ew::add(&s(c, &gt[0])?, &s(n, &gt[1])?)?, &s(m, &gt[2])?)
            };
            for with_backward in [false, true] {
                let case = Case {
                    op: if with_backward { "gate.fwd+bwd" } else { "gate.fwd" },
                    shape: format!("[{b}, {ch}]"),
                    variant: format!("{name}{}", if weighted { "/|z*w|" } else { "/z" }),
                    flops: 0.0,
                    // z in; c, n, m out (the rank's own traffic not counted).
                    bytes: 16.0 * (b * ch) as f64,
                    elems: (b * ch) as f64,
                };
                let validate = || -> Validation {
                    let (c, n, m) = cpr_gate(&z, &cfg).map_err(err)?;
                    check(&c.to_vec().map_err(err)?[..rows * ch], &fwd.c, gate_tol::FEATURES)
                        .map_err(|e| format!("c: {e}"))?;
                    check(&m.to_vec().map_err(err)?[..rows * ch], &fwd.m, gate_tol::MASK)
                        .map_err(|e| format!("m: {e}"))?;
                    if with_backward {
                        let l = loss(&c, &n, &m).map_err(err)?;
                        let gr = autograd::backward(&l).map_err(err)?;
                        let d = gr.of(&z).map_err(err)?.to_vec().map_err(err)?;
                        check(&d[..rows * ch], &dz, gate_tol::dz(&dz)).map_err(|e| format!("dz: {e}"))?;
                    }
                    Ok(())
                };
                if !h.wants(case.op) {
                    continue;
                }
                h.run(
                    case,
                    validate,
                    || {
                        if with_backward {
                            let (c, n, m) = cpr_gate(&z, &cfg)?;
                            autograd::backward(&loss(&c, &n, &m)?).map(drop)
                        } else {
                            let _g = autograd::no_grad();
                            cpr_gate(&z, &cfg).map(drop)
                        }
                    },
                    None,
                );
            }
        }
    }
}

fn sortmask_rows(h: &mut Harness) {
    let shape = [32usize, 64, 56, 56];
    let (rows_all, n) = (32 * 64, 56 * 56);
    let numel: usize = shape.iter().product();
    let gpu = h.gpu.clone();
    let fv = rand(61, numel);
    let gv = rand(62, numel);
    let f = Tensor::from_slice(&gpu, &fv, &shape).unwrap().requires_grad_();
    let g = Tensor::from_slice(&gpu, &gv, &shape).unwrap();
    let rows = CHECK_ROWS;
    let (f64v, g64) = (f64s(&fv[..rows * n]), f64s(&gv[..rows * n]));
    // The whole op with the default PAV ranks and with the bitonic network (pairwise
    // would be 2e10 sigmoid terms per pass).
    for (cfg, variant) in [
        (SortMaskConfig::default(), "pav/l2"),
        (SortMaskConfig::network(0.1), "bitonic/logistic"),
    ] {
        let rcfg = SortMaskRefConfig {
            quantile: cfg.quantile as f64,
            temperature: cfg.temperature as f64,
            method: cfg.method,
            strength: cfg.strength as f64,
        };
        let want = sortmask_ref(&f64v, n, &rcfg);
        let mut dwant = vec![0.0; rows * n];
        sortmask_backward_ref(&f64v, n, &rcfg, &want, &g64, &mut dwant);
        for with_backward in [false, true] {
            let case = Case {
                op: if with_backward {
                    "sortmask.fwd+bwd"
                } else {
                    "sortmask.fwd"
                },
                shape: format!("{shape:?}"),
                variant: variant.into(),
                flops: 0.0,
                // f in, out written (the rank's own traffic not counted).
                bytes: 8.0 * numel as f64,
                elems: shape.iter().product::<usize>() as f64,
            };
            let validate = || -> Validation {
                let out = sortmask(&f, &cfg).map_err(err)?;
                check(
                    &out.to_vec().map_err(err)?[..rows * n],
                    head(&want.out, rows, n),
                    mask_tol::OUT,
                )
                .map_err(|e| format!("out: {e}"))?;
                if with_backward {
                    let gr = autograd::backward_with(&out, &g).map_err(err)?;
                    let d = gr.of(&f).map_err(err)?.to_vec().map_err(err)?;
                    check(&d[..rows * n], &dwant, mask_tol::backward(&dwant))
                        .map_err(|e| format!("df: {e}"))?;
                }
                Ok(())
            };
            if !h.wants(case.op) {
                continue;
            }
            h.run(
                case,
                validate,
                || {
                    if with_backward {
                        let out = sortmask(&f, &cfg)?;
                        autograd::backward_with(&out, &g).map(drop)
                    } else {
                        let _g = autograd::no_grad();
                        sortmask(&f, &cfg).map(drop)
                    }
                },
                None,
            );
        }
    }
    let cfg = SortMaskConfig::network(0.1);
    // SortMask's own kernels, the rank replaced by the identity (r = d): what SortMask
    // adds to whichever soft rank it calls.
    let f2 = Tensor::from_slice(&gpu, &fv, &[rows_all, n])
        .unwrap()
        .requires_grad_();
    let g2 = Tensor::from_slice(&gpu, &gv, &[rows_all, n]).unwrap();
    let glue = |v: SortMaskVersion| -> cprl::Result<Tensor> {
        let (d, mu) = sortmask_deviation(&f2, v)?;
        sortmask_apply(&f2, &mu, &d, &cfg, v)
    };
    let (gw, gdw) = glue_ref(&f64v, &g64, n, &cfg);
    for v in [SortMaskVersion::V1, SortMaskVersion::V2, SortMaskVersion::Auto] {
        for with_backward in [false, true] {
            let case = Case {
                op: if with_backward {
                    "sortmask.glue.fwd+bwd"
                } else {
                    "sortmask.glue.fwd"
                },
                shape: format!("[{rows_all}, {n}]"),
                variant: format!("{v:?}"),
                flops: 0.0,
                // Counted once per pass over [rows, n] (4 B each). fwd: f read twice and
                // d written, then f, r read and out written (6). bwd: go, r read twice, f
                // read, df and dr written (7); gd, f read twice, df written (5); the
                // tape's add of the two df (3).
                bytes: 4.0 * numel as f64 * if with_backward { 6.0 + 7.0 + 5.0 + 3.0 } else { 6.0 },
                elems: (rows_all * n) as f64,
            };
            let validate = || -> Validation {
                let out = glue(v).map_err(err)?;
                check(&out.to_vec().map_err(err)?[..rows * n], &gw, mask_tol::GLUE)
                    .map_err(|e| format!("out: {e}"))?;
                if with_backward {
                    let gr = autograd::backward_with(&out, &g2).map_err(err)?;
                    let d = gr.of(&f2).map_err(err)?.to_vec().map_err(err)?;
                    check(&d[..rows * n], &gdw, mask_tol::glue_backward(&gdw))
                        .map_err(|e| format!("df: {e}"))?;
                }
                Ok(())
            };
            if !h.wants(case.op) {
                continue;
            }
            h.run(
                case,
                validate,
                || {
                    if with_backward {
                        autograd::backward_with(&glue(v)?, &g2).map(drop)
                    } else {
                        let _g = autograd::no_grad();
                        glue(v).map(drop)
                    }
                },
                None,
            );
        }
    }
}

/// f64 SortMask with the identity in place of the rank (r = d): (out, df) for rows of n.
fn glue_ref(f: &[f64], go: &[f64], n: usize, cfg: &SortMaskConfig) -> (Vec<f64>, Vec<f64>) {
    let (a, b) = (
        1.0 / ((n - 1) as f64 * cfg.temperature as f64),
        -(1.0 / (n - 1) as f64 + cfg.quantile as f64) / cfg.temperature as f64,
    );
    let sig = |t: f64| 1.0 / (1.0 + (-t).exp());
    let (mut out, mut df) = (vec![0.0; f.len()], vec![0.0; f.len()]);
    for (row, (fr, gr)) in f.chunks(n).zip(go.chunks(n)).enumerate() {
        let mu = fr.iter().sum::<f64>() / n as f64;
        let mut dmu = 0.0;
        for i in 0..n {
            let dv = fr[i] - mu;
            let t = a * dv.abs() + b;
            let gate = sig(t);
            out[row * n + i] = mu + dv * gate;
            // out = mu + dv g(|dv|): direct, through g, and through the mean.
            let s = cprl::reference::gate::sign0(dv);
            let dd = gr[i] * dv * gate * (1.0 - gate) * a;
            df[row * n + i] = gr[i] * gate + dd * s;
            dmu += gr[i] * (1.0 - gate) - dd * s;
        }
        for i in 0..n {
            df[row * n + i] += dmu / n as f64;
        }
    }
    (out, df)
}

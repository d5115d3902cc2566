//! The `Tensor` methods (`src/tensor/methods.rs`) against the functions they wrap: on
//! small random inputs each method gives bit for bit the values of its function and,
//! through the tape, the same gradient for every input; and a small model written
//! with methods trains.
//!
//! Tolerance: none (atol = rtol = 0). A method calls its function, so the same kernels
//! run on the same inputs; the function runs once first so that any autotuning is
//! done before the two compared calls, and each test uses shapes of its own so that
//! no other test tunes the same key between them.

mod common;

use common::*;
use cprl::ops::conv2d::{self, Conv2dParams};
use cprl::ops::elementwise::{self, Unary, UnaryOp};
use cprl::ops::gate::{self, GateConfig};
use cprl::ops::norm::{self, BatchNorm, GroupNorm};
use cprl::ops::optim::{Adam, AdamConfig, Optimizer};
use cprl::ops::pool::{self, Pool2d};
use cprl::ops::softrank::{self, Method, NetworkKind, Order, Regularization, Relaxation, sort};
use cprl::ops::sortmask::{self, SortMaskConfig};
use cprl::ops::{layout, loss, matmul, reduce, rng};
use cprl::{Result, Tensor, autograd};

/// A leaf of seeded uniform values in [-1, 1).
fn leaf(salt: u64, shape: &[usize]) -> Tensor {
    rand_tensor(&gpu(), salt, shape).0.requires_grad_()
}

/// A leaf of seeded uniform values in [lo, hi) (positive inputs of sqrt, log, div).
fn leaf_in(salt: u64, shape: &[usize], lo: f32, hi: f32) -> Tensor {
    let v = rand_range(salt, shape.iter().product(), lo, hi);
    Tensor::from_slice(&gpu(), &v, shape).unwrap().requires_grad_()
}

fn one(t: Result<Tensor>) -> Result<Vec<Tensor>> {
    t.map(|t| vec![t])
}

/// A salt that differs between checks, from their names.
fn salt_of(what: &str) -> u64 {
    what.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Runs `function` once (autotuning), then `method` and `function`, and asserts that
/// every output is equal bit for bit, records a gradient in both or in neither, and
/// that each recorded output gives every input in `inputs` the same gradient for a
/// random output gradient. Returns how many gradients were compared.
fn same(
    what: &str,
    inputs: &[&Tensor],
    method: impl Fn() -> Result<Vec<Tensor>>,
    function: impl Fn() -> Result<Vec<Tensor>>,
) -> usize {
    function().unwrap_or_else(|e| panic!("{what}: {e}"));
    let a = method().unwrap_or_else(|e| panic!("{what} (method): {e}"));
    let b = function().unwrap_or_else(|e| panic!("{what} (function): {e}"));
    assert_eq!(a.len(), b.len(), "{what}: output count");
    let mut compared = 0;
    for (k, (a, b)) in a.iter().zip(&b).enumerate() {
        let what = format!("{what} output {k}");
        assert_eq!(a.shape(), b.shape(), "{what}: shape");
        assert_close(&what, &a.to_vec().unwrap(), &f64s(&b.to_vec().unwrap()), 0.0, 0.0);
        assert_eq!(
            a.requires_grad(),
            b.requires_grad(),
            "{what}: recorded in one only"
        );
        if !a.requires_grad() {
            continue;
        }
        let g = rand_tensor(&gpu(), salt_of(&what), a.shape()).0;
        let ga = a.backward_with(&g).unwrap();
        let gb = autograd::backward_with(b, &g).unwrap();
        for (i, x) in inputs.iter().enumerate() {
            match (ga.get(x), gb.get(x)) {
                (Some(da), Some(db)) => {
                    let name = format!("{what}: gradient of input {i}");
                    assert_close(
                        &name,
                        &da.to_vec().unwrap(),
                        &f64s(&db.to_vec().unwrap()),
                        0.0,
                        0.0,
                    );
                    compared += 1;
                }
                (None, None) => {}
                _ => panic!("{what}: input {i} has a gradient through one path only"),
            }
        }
    }
    compared
}

/// `same` for an op whose outputs are differentiable: at least one gradient compared.
fn same_grad(
    what: &str,
    inputs: &[&Tensor],
    method: impl Fn() -> Result<Vec<Tensor>>,
    function: impl Fn() -> Result<Vec<Tensor>>,
) {
    let n = same(what, inputs, method, function);
    assert!(n > 0, "{what}: no gradient reached the inputs");
}

#[test]
fn binary_methods_equal_their_functions_with_broadcasting() {
    let (a, b) = (leaf(1, &[3, 4, 5]), leaf(2, &[4, 1]));
    let d = leaf_in(3, &[4, 1], 0.5, 2.0);
    same_grad(
        "add",
        &[&a, &b],
        || one(a.add(&b)),
        || one(elementwise::add(&a, &b)),
    );
    same_grad(
        "sub",
        &[&a, &b],
        || one(a.sub(&b)),
        || one(elementwise::sub(&a, &b)),
    );
    same_grad(
        "mul",
        &[&a, &b],
        || one(a.mul(&b)),
        || one(elementwise::mul(&a, &b)),
    );
    same_grad(
        "div",
        &[&a, &d],
        || one(a.div(&d)),
        || one(elementwise::div(&a, &d)),
    );
    // Equal shapes divisible by 4 take the vec4 kernel.
    let c = leaf(4, &[3, 4, 5]);
    same_grad(
        "mul vec4",
        &[&a, &c],
        || one(a.mul(&c)),
        || one(elementwise::mul(&a, &c)),
    );
    same_grad(
        "expand",
        &[&b],
        || one(b.expand(&[3, 4, 5])),
        || one(elementwise::expand(&b, &[3, 4, 5])),
    );
}

#[test]
fn unary_methods_equal_their_functions() {
    let x = leaf(10, &[5, 7]);
    let p = leaf_in(11, &[5, 7], 0.25, 3.0);
    let i = [&x];
    same_grad(
        "scale",
        &i,
        || one(x.scale(1.7)),
        || one(elementwise::scale(&x, 1.7)),
    );
    same_grad(
        "affine",
        &i,
        || one(x.affine(0.5, -0.2)),
        || one(elementwise::affine(&x, 0.5, -0.2)),
    );
    same_grad("relu", &i, || one(x.relu()), || one(elementwise::relu(&x)));
    same_grad(
        "leaky_relu",
        &i,
        || one(x.leaky_relu(0.1)),
        || one(elementwise::leaky_relu(&x, 0.1)),
    );
    same_grad(
        "sigmoid",
        &i,
        || one(x.sigmoid()),
        || one(elementwise::sigmoid(&x)),
    );
    same_grad("tanh", &i, || one(x.tanh()), || one(elementwise::tanh(&x)));
    same_grad("abs", &i, || one(x.abs()), || one(elementwise::abs(&x)));
    same_grad("square", &i, || one(x.square()), || one(elementwise::square(&x)));
    same_grad("exp", &i, || one(x.exp()), || one(elementwise::exp(&x)));
    same_grad("sign", &i, || one(x.sign()), || one(elementwise::sign(&x)));
    same_grad(
        "clamp",
        &i,
        || one(x.clamp(-0.3, 0.4)),
        || one(elementwise::clamp(&x, -0.3, 0.4)),
    );
    same_grad("sqrt", &[&p], || one(p.sqrt()), || one(elementwise::sqrt(&p)));
    same_grad("log", &[&p], || one(p.log()), || one(elementwise::log(&p)));
    let f = Unary {
        alpha: 0.2,
        ..Unary::new(UnaryOp::LeakyRelu)
    };
    same_grad("unary", &i, || one(x.unary(f)), || one(elementwise::unary(&x, f)));
}

#[test]
fn reduction_methods_equal_their_functions() {
    let x = leaf(20, &[3, 6, 5]);
    let i = [&x];
    same_grad("sum", &i, || one(x.sum()), || one(reduce::sum(&x)));
    same_grad("mean", &i, || one(x.mean()), || one(reduce::mean(&x)));
    same_grad(
        "sum_axes keepdim",
        &i,
        || one(x.sum_axes(&[0, 2], true)),
        || one(reduce::sum_axes(&x, &[0, 2], true)),
    );
    same_grad(
        "sum_axes",
        &i,
        || one(x.sum_axes(&[1], false)),
        || one(reduce::sum_axes(&x, &[1], false)),
    );
    same_grad(
        "mean_axes",
        &i,
        || one(x.mean_axes(&[2], false)),
        || one(reduce::mean_axes(&x, &[2], false)),
    );
    same_grad(
        "sum_to",
        &i,
        || one(x.sum_to(&[6, 1])),
        || one(reduce::sum_to(&x, &[6, 1])),
    );
}

#[test]
fn layout_methods_equal_their_functions() {
    let (x, y) = (leaf(30, &[2, 3, 4]), leaf(31, &[2, 2, 4]));
    same_grad(
        "concat",
        &[&x, &y],
        || one(Tensor::concat(&[&x, &y], 1)),
        || one(layout::concat(&[&x, &y], 1)),
    );
    same_grad(
        "slice",
        &[&x],
        || one(x.slice(2, 1, 2)),
        || one(layout::slice(&x, 2, 1, 2)),
    );
    same_grad(
        "permute",
        &[&x],
        || one(x.permute(&[2, 0, 1])),
        || one(layout::permute(&x, &[2, 0, 1])),
    );
    same_grad(
        "transpose",
        &[&x],
        || one(x.transpose(0, 2)),
        || one(layout::transpose(&x, 0, 2)),
    );
}

#[test]
fn matmul_methods_equal_their_functions() {
    let (a, b) = (leaf(40, &[2, 3, 9]), leaf(41, &[9, 5]));
    same_grad(
        "matmul",
        &[&a, &b],
        || one(a.matmul(&b)),
        || one(matmul::matmul(&a, &b)),
    );
    let (at, bt) = (leaf(42, &[9, 3]), leaf(43, &[5, 9]));
    same_grad(
        "matmul_t",
        &[&at, &bt],
        || one(at.matmul_t(&bt, true, true)),
        || one(matmul::matmul_t(&at, &bt, true, true)),
    );
    let (x, w, bias) = (leaf(44, &[6, 11]), leaf(45, &[7, 11]), leaf(46, &[7]));
    same_grad(
        "linear",
        &[&x, &w, &bias],
        || one(x.linear(&w, Some(&bias))),
        || one(matmul::linear(&x, &w, Some(&bias))),
    );
    same_grad(
        "linear without bias",
        &[&x, &w],
        || one(x.linear(&w, None)),
        || one(matmul::linear(&x, &w, None)),
    );
}

#[test]
fn conv2d_method_equals_its_function() {
    let (x, w, b) = (leaf(50, &[2, 4, 9, 7]), leaf(51, &[6, 2, 3, 3]), leaf(52, &[6]));
    let p = Conv2dParams::new(2, 1).groups(2);
    same_grad(
        "conv2d groups 2",
        &[&x, &w, &b],
        || one(x.conv2d(&w, Some(&b), &p)),
        || one(conv2d::conv2d(&x, &w, Some(&b), &p)),
    );
    let w1 = leaf(53, &[3, 4, 3, 2]);
    let p = Conv2dParams::new(1, 2).stride_hw(1, 2).dilation_hw(2, 1);
    same_grad(
        "conv2d dilated",
        &[&x, &w1],
        || one(x.conv2d(&w1, None, &p)),
        || one(conv2d::conv2d(&x, &w1, None, &p)),
    );
}

#[test]
fn pool_methods_equal_their_functions() {
    let x = leaf(60, &[2, 3, 9, 8]);
    let i = [&x];
    let avg = Pool2d::square(3, 2, 1);
    let max = Pool2d::square(2, 2, 0);
    same_grad(
        "avg_pool2d",
        &i,
        || one(x.avg_pool2d(&avg)),
        || one(pool::avg_pool2d(&x, &avg)),
    );
    same_grad(
        "max_pool2d",
        &i,
        || one(x.max_pool2d(&max)),
        || one(pool::max_pool2d(&x, &max)),
    );
    same_grad(
        "max_pool2d_with_indices",
        &i,
        || x.max_pool2d_with_indices(&max).map(|(y, at)| vec![y, at]),
        || pool::max_pool2d_with_indices(&x, &max).map(|(y, at)| vec![y, at]),
    );
    same_grad(
        "global_avg_pool",
        &i,
        || one(x.global_avg_pool()),
        || one(pool::global_avg_pool(&x)),
    );
}

#[test]
fn norm_methods_equal_their_functions_running_statistics_included() {
    let gpu = gpu();
    let x = leaf(70, &[3, 4, 5, 6]);
    let (gamma, beta) = (leaf(71, &[4]), leaf(72, &[4]));
    let i = [&x, &gamma, &beta];
    // Training updates the running statistics in place: each call gets fresh ones and
    // returns them, so they are compared too.
    let fresh = || {
        (
            Tensor::zeros(&gpu, &[4]).unwrap(),
            Tensor::ones(&gpu, &[4]).unwrap(),
        )
    };
    for opts in [
        BatchNorm::default(),
        BatchNorm {
            relu: true,
            ..BatchNorm::default()
        },
    ] {
        same_grad(
            &format!("batch_norm training relu={}", opts.relu),
            &i,
            || {
                let (m, v) = fresh();
                Ok(vec![x.batch_norm(&gamma, &beta, &m, &v, true, &opts)?, m, v])
            },
            || {
                let (m, v) = fresh();
                Ok(vec![
                    norm::batch_norm(&x, &gamma, &beta, &m, &v, true, &opts)?,
                    m,
                    v,
                ])
            },
        );
    }
    let m = rand_tensor(&gpu, 73, &[4]).0;
    let v = Tensor::from_slice(&gpu, &rand_range(74, 4, 0.5, 2.0), &[4]).unwrap();
    let opts = BatchNorm::default();
    same_grad(
        "batch_norm eval",
        &i,
        || one(x.batch_norm(&gamma, &beta, &m, &v, false, &opts)),
        || one(norm::batch_norm(&x, &gamma, &beta, &m, &v, false, &opts)),
    );
    let gn = GroupNorm::new(2);
    same_grad(
        "group_norm",
        &i,
        || one(x.group_norm(&gamma, &beta, &gn)),
        || one(norm::group_norm(&x, &gamma, &beta, &gn)),
    );
}

#[test]
fn loss_methods_equal_their_functions() {
    let (p, t) = (leaf(80, &[10, 1]), leaf(81, &[10, 1]));
    let i = [&p, &t];
    same_grad("mse", &i, || one(p.mse(&t)), || one(loss::mse(&p, &t)));
    same_grad("l1", &i, || one(p.l1(&t)), || one(loss::l1(&p, &t)));
    same_grad(
        "huber",
        &i,
        || one(p.huber(&t, 0.5)),
        || one(loss::huber(&p, &t, 0.5)),
    );
    same_grad(
        "plcc_loss",
        &i,
        || one(p.plcc_loss(&t)),
        || one(loss::plcc_loss(&p, &t)),
    );
}

#[test]
fn ranking_methods_equal_their_functions() {
    let x = leaf(90, &[3, 12]);
    let i = [&x];
    let network = Method::Network {
        kind: NetworkKind::Bitonic,
        relaxation: Relaxation::Logistic,
    };
    for (name, method) in [
        ("pav l2", Method::Pav(Regularization::L2)),
        ("pav kl", Method::Pav(Regularization::Kl)),
        ("pairwise", Method::Pairwise),
        ("network", network),
    ] {
        same_grad(
            &format!("soft_rank {name}"),
            &i,
            || one(x.soft_rank(method, 0.5)),
            || one(softrank::soft_rank(&x, method, 0.5)),
        );
        same_grad(
            &format!("soft_rank_ordered {name}"),
            &i,
            || one(x.soft_rank_ordered(method, 0.5, Order::Descending)),
            || one(softrank::soft_rank_ordered(&x, method, 0.5, Order::Descending)),
        );
    }
    same_grad(
        "sort",
        &i,
        || x.sort(Order::Descending).map(|s| vec![s.values, s.indices]),
        || sort::sort(&x, Order::Descending).map(|s| vec![s.values, s.indices]),
    );
    same_grad(
        "top_k",
        &i,
        || x.top_k(4, Order::Ascending).map(|s| vec![s.values, s.indices]),
        || sort::top_k(&x, 4, Order::Ascending).map(|s| vec![s.values, s.indices]),
    );
    // Not differentiable: values only.
    same(
        "argsort",
        &i,
        || one(x.argsort(Order::Ascending)),
        || one(sort::argsort(&x, Order::Ascending)),
    );
    same(
        "hard_rank",
        &i,
        || one(x.hard_rank(Order::Descending)),
        || one(sort::hard_rank(&x, Order::Descending)),
    );
}

#[test]
fn gate_and_sortmask_methods_equal_their_functions() {
    let z = leaf(100, &[4, 10]);
    let cfg = GateConfig::default();
    same_grad(
        "cpr_gate",
        &[&z],
        || x3(z.cpr_gate(&cfg)),
        || x3(gate::cpr_gate(&z, &cfg)),
    );
    let f = leaf(101, &[2, 3, 4, 5]);
    for (name, cfg) in [
        ("pav", SortMaskConfig::default()),
        ("network", SortMaskConfig::network(0.5)),
    ] {
        same_grad(
            &format!("sortmask {name}"),
            &[&f],
            || one(f.sortmask(&cfg)),
            || one(sortmask::sortmask(&f, &cfg)),
        );
    }
}

fn x3(r: Result<(Tensor, Tensor, Tensor)>) -> Result<Vec<Tensor>> {
    r.map(|(a, b, c)| vec![a, b, c])
}

#[test]
fn random_constructors_equal_their_functions() {
    let gpu = gpu();
    let n = same(
        "uniform",
        &[],
        || one(Tensor::uniform(&gpu, &[7, 9], 5, -2.0, 3.0)),
        || one(rng::uniform(&gpu, &[7, 9], 5, -2.0, 3.0)),
    );
    assert_eq!(n, 0);
    same(
        "normal",
        &[],
        || one(Tensor::normal(&gpu, &[7, 9], 6, 1.0, 0.5)),
        || one(rng::normal(&gpu, &[7, 9], 6, 1.0, 0.5)),
    );
}

#[test]
fn backward_method_equals_autograd_backward() {
    let (x, w) = (leaf(110, &[4, 6]), leaf(111, &[3, 6]));
    let loss = x
        .linear(&w, None)
        .unwrap()
        .tanh()
        .unwrap()
        .square()
        .unwrap()
        .mean()
        .unwrap();
    let (a, b) = (loss.backward().unwrap(), autograd::backward(&loss).unwrap());
    assert_eq!(a.len(), b.len());
    for t in [&x, &w] {
        let want = f64s(&b.of(t).unwrap().to_vec().unwrap());
        assert_close("backward", &a.of(t).unwrap().to_vec().unwrap(), &want, 0.0, 0.0);
    }
}

/// A small regression model written with methods: conv -> batch norm + ReLU -> global
/// pool -> linear, loss MSE + 0.1 (1 - PLCC). Adam brings the loss down at least
/// tenfold in 40 steps (over 1000-fold in the runs seen) on a fixed batch whose target
/// is a contrast of the images (the mean of channel 0 minus that of channel 2), which
/// the model can represent.
#[test]
fn a_model_written_with_methods_trains() {
    let gpu = gpu();
    let (n, s) = (8, 8);
    let xv = rand_range(120, n * 3 * s * s, 0.0, 1.0);
    let plane = s * s;
    let yv: Vec<f32> = (0..n)
        .map(|i| {
            let mean = |c: usize| {
                let at = (i * 3 + c) * plane;
                xv[at..at + plane].iter().sum::<f32>() / plane as f32
            };
            4.0 * (mean(0) - mean(2))
        })
        .collect();
    let x = Tensor::from_slice(&gpu, &xv, &[n, 3, s, s]).unwrap();
    let y = Tensor::from_slice(&gpu, &yv, &[n, 1]).unwrap();
    let w1 = Tensor::normal(&gpu, &[6, 3, 3, 3], 1, 0.0, 0.3)
        .unwrap()
        .requires_grad_();
    let gamma = Tensor::ones(&gpu, &[6]).unwrap().requires_grad_();
    let beta = Tensor::zeros(&gpu, &[6]).unwrap().requires_grad_();
    let w2 = Tensor::normal(&gpu, &[1, 6], 2, 0.0, 0.3)
        .unwrap()
        .requires_grad_();
    let b2 = Tensor::zeros(&gpu, &[1]).unwrap().requires_grad_();
    let (running_mean, running_var) = (
        Tensor::zeros(&gpu, &[6]).unwrap(),
        Tensor::ones(&gpu, &[6]).unwrap(),
    );
    let bn = BatchNorm {
        relu: true,
        ..BatchNorm::default()
    };
    let p = Conv2dParams::new(2, 1);
    let params = [w1.clone(), gamma.clone(), beta.clone(), w2.clone(), b2.clone()];
    let mut adam = Adam::new(AdamConfig::adam(0.05));
    let step = || -> Result<Tensor> {
        let h = x
            .conv2d(&w1, None, &p)?
            .batch_norm(&gamma, &beta, &running_mean, &running_var, true, &bn)?;
        let pred = h.global_avg_pool()?.linear(&w2, Some(&b2))?;
        pred.mse(&y)?.add(&pred.plcc_loss(&y)?.scale(0.1)?)
    };
    let mut losses = Vec::new();
    for _ in 0..40 {
        let loss = step().unwrap();
        let grads = loss.backward().unwrap();
        assert_eq!(grads.len(), params.len(), "a parameter got no gradient");
        adam.step(&params, &grads).unwrap();
        losses.push(loss.item().unwrap());
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(
        last.is_finite() && last * 10.0 <= first,
        "loss fell only {first} -> {last}: {losses:?}"
    );
}

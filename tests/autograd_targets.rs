//! `autograd::backward_to`: the gradients of the chosen tensors equal those of a full
//! backward bit for bit (the same kernels run on the same values), and no other
//! tensor gets one, so an input gradient through a convolution skips its
//! weight-gradient kernel.

mod common;

use common::*;
use cprl::ops::conv2d::Conv2dParams;
use cprl::{Tensor, autograd};

fn leaf(salt: u64, shape: &[usize]) -> Tensor {
    rand_tensor(&gpu(), salt, shape).0.requires_grad_()
}

/// loss = mean(relu(conv(x, w) + b) * y), a small graph with weights and an input.
fn graph(x: &Tensor, w: &Tensor, b: &Tensor, y: &Tensor) -> Tensor {
    let p = Conv2dParams::new(1, 1);
    x.conv2d(w, Some(b), &p)
        .unwrap()
        .relu()
        .unwrap()
        .mul(y)
        .unwrap()
        .mean()
        .unwrap()
}

#[test]
fn backward_to_the_input_gives_the_full_backwards_input_gradient_and_nothing_else() {
    for (k, &(n, c, h, o)) in [(1, 1, 1, 1), (2, 3, 7, 5), (3, 4, 12, 8)].iter().enumerate() {
        let s = 100 + 10 * k as u64;
        let x = leaf(s, &[n, c, h, h]);
        let w = leaf(s + 1, &[o, c, 3, 3]);
        let b = leaf(s + 2, &[o]);
        let y = rand_tensor(&gpu(), s + 3, &[n, o, h, h]).0;
        let full = autograd::backward(&graph(&x, &w, &b, &y)).unwrap();
        let only = autograd::backward_to(&graph(&x, &w, &b, &y), &[&x]).unwrap();
        assert_eq!(
            only.of(&x).unwrap().to_vec().unwrap(),
            full.of(&x).unwrap().to_vec().unwrap(),
            "[{n}, {c}, {h}, {h}]: the input gradient"
        );
        assert!(
            only.get(&w).is_none() && only.get(&b).is_none(),
            "no weight gradients"
        );
        assert!(full.get(&w).is_some() && full.get(&b).is_some());

        let both = autograd::backward_to(&graph(&x, &w, &b, &y), &[&w, &b]).unwrap();
        for t in [&w, &b] {
            assert_eq!(
                both.of(t).unwrap().to_vec().unwrap(),
                full.of(t).unwrap().to_vec().unwrap()
            );
        }
        assert!(
            both.get(&x).is_none(),
            "no input gradient when only weights are asked"
        );
    }
}

#[test]
fn backward_to_refuses_a_non_scalar_loss() {
    let x = leaf(7, &[2, 3]);
    let e = autograd::backward_to(&x.relu().unwrap(), &[&x]).unwrap_err();
    assert!(e.to_string().contains("not a scalar"), "{e}");
}

//! Finite-difference gradient checks for the f64 references.
//!
//! A backward reference claims `dx = J^T g` for a forward `y = f(x)`. The check
//! compares every `dx[i]` with the central difference of `<f(x), g>` along `e_i`.

/// Central-difference vector-Jacobian product of `f` at `x` for cotangent `g`.
pub fn fd_vjp(f: &dyn Fn(&[f64]) -> Vec<f64>, x: &[f64], g: &[f64], eps: f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            let x0 = xp[i];
            xp[i] = x0 + eps;
            let up = dot(&f(&xp), g);
            xp[i] = x0 - eps;
            let down = dot(&f(&xp), g);
            xp[i] = x0;
            (up - down) / (2.0 * eps)
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "cotangent length differs from the output length"
    );
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Largest violation of `|a - b| <= atol + rtol * |b|`, as (excess, index); None if all pass.
pub fn worst_violation(a: &[f64], b: &[f64], atol: f64, rtol: f64) -> Option<(f64, usize)> {
    assert_eq!(a.len(), b.len());
    let mut worst: Option<(f64, usize)> = None;
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let excess = (x - y).abs() - (atol + rtol * y.abs());
        if excess > 0.0 || x.is_nan() != y.is_nan() {
            let e = if excess.is_nan() { f64::INFINITY } else { excess };
            if worst.is_none_or(|(w, _)| e > w) {
                worst = Some((e, i));
            }
        }
    }
    worst
}

/// Panics with a report unless the analytic gradient matches finite differences.
#[allow(clippy::too_many_arguments)]
pub fn assert_grad(
    what: &str,
    f: &dyn Fn(&[f64]) -> Vec<f64>,
    x: &[f64],
    g: &[f64],
    analytic: &[f64],
    eps: f64,
    atol: f64,
    rtol: f64,
) {
    let numeric = fd_vjp(f, x, g, eps);
    if let Some((_, i)) = worst_violation(analytic, &numeric, atol, rtol) {
        let pairs: Vec<String> = analytic
            .iter()
            .zip(&numeric)
            .take(6)
            .map(|(a, n)| format!("({a:.6e}, {n:.6e})"))
            .collect();
        panic!(
            "{what}: analytic gradient differs from finite differences at {i}: {} vs {} \
             (atol {atol}, rtol {rtol}, eps {eps}); first (analytic, numeric): {}",
            analytic[i],
            numeric[i],
            pairs.join(" ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_vjp_of_a_square_is_twice_x_times_g() {
        // f(x) = x^2 elementwise, so J^T g = 2 x g.
        let x = [0.5, -1.5, 2.0];
        let g = [1.0, 2.0, -1.0];
        let num = fd_vjp(&|x: &[f64]| x.iter().map(|v| v * v).collect(), &x, &g, 1e-5);
        let want = [1.0, -6.0, -4.0];
        assert!(worst_violation(&num, &want, 1e-8, 1e-8).is_none(), "{num:?}");
    }

    #[test]
    #[should_panic(expected = "differs from finite differences")]
    fn assert_grad_catches_a_wrong_gradient() {
        let x = [0.5, -1.5];
        let g = [1.0, 1.0];
        assert_grad(
            "square",
            &|x: &[f64]| x.iter().map(|v| v * v).collect(),
            &x,
            &g,
            &[1.0, -3.0 + 0.1],
            1e-5,
            1e-6,
            1e-6,
        );
    }
}

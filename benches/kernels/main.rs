//! Kernel benchmark: every variant validated against the f64 reference, then timed.
//!
//!     cargo bench --bench kernels                 # everything
//!     cargo bench --bench kernels -- matmul conv  # rows whose op contains a word
//!     cargo bench --bench kernels -- --quick      # fewer shapes and repeats
//!     cargo bench --bench kernels -- --validate-only  # every row checked, none timed
//!
//! Prints the adapter, a table (op, shape, variant, median ms, spread, GFLOP/s,
//! GB/s, speed-up over the f64 CPU reference) and a `JSON {...}` line per row.
//! GPU timestamps are used where the adapter has them, wall time otherwise.

mod attack;
mod cnn;
mod conv2d;
mod cprl_model;
mod elementwise;
mod harness;
mod loss_optim;
mod matmul;
mod norm;
mod peers;
mod pool;
mod softrank;
mod softrank_misc;

fn main() {
    let mut h = harness::Harness::from_args();
    h.header();
    elementwise::bench(&mut h);
    matmul::bench(&mut h);
    conv2d::bench(&mut h);
    pool::bench(&mut h);
    norm::bench(&mut h);
    loss_optim::bench(&mut h);
    softrank::bench(&mut h);
    softrank_misc::bench(&mut h);
    cnn::bench(&mut h);
    cprl_model::bench(&mut h);
    attack::bench(&mut h);
    std::process::exit(h.finish());
}

//! The `cprl` command line.

mod cli;

use clap::{Parser, Subcommand};

/// cprl: trustworthy no-reference image quality assessment on any wgpu adapter.
#[derive(Parser)]
#[command(name = "cprl", version, about, long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the adapter, its limits and features, and prove it runs a kernel.
    Doctor(cli::doctor::DoctorArgs),
    /// Build the synthetic set or check a dataset's label file.
    Data(cli::data::DataArgs),
    /// Train the small CNN on a built-in synthetic task and print the falling loss.
    TinyTrain(cli::tiny_train::TinyTrainArgs),
    /// Build the synthetic set, train the baseline and CPRL, compare them on unseen
    /// photos and write a report (start here).
    Demo(cli::demo::DemoArgs),
    /// Train a CPRL model (or the baseline) on a labelled dataset.
    Train(cli::train::TrainArgs),
    /// Train CPRL with each of its parts switched off in turn; one table.
    Ablate(cli::demo::AblateArgs),
    /// Correlate a checkpoint's predictions with the MOS of a labelled dataset split.
    Eval(cli::eval::EvalArgs),
    /// Score image files or folders with a checkpoint (text, JSON or CSV on stdout).
    Score(cli::score::ScoreArgs),
    /// Attack checkpoints on a labelled split (FGSM, PGD, MI-FGSM, score reflection,
    /// MSU) at each eps; a robustness table.
    Attack(cli::attack::AttackArgs),
    /// Explain a gated checkpoint's scores: the CPR gate's channel ranking, heatmaps
    /// of the causal channels, and how an attack moves the causal set.
    Explain(cli::explain::ExplainArgs),
}

fn main() {
    let args = Args::parse();
    let result = match args.command {
        Command::Doctor(a) => cli::doctor::run(&a),
        Command::Data(a) => cli::data::run(&a),
        Command::TinyTrain(a) => cli::tiny_train::run(&a),
        Command::Demo(a) => cli::demo::run_demo(&a),
        Command::Train(a) => cli::train::run(&a),
        Command::Ablate(a) => cli::demo::run_ablate(&a),
        Command::Eval(a) => cli::eval::run(&a),
        Command::Score(a) => cli::score::run(&a),
        Command::Attack(a) => cli::attack::run(&a),
        Command::Explain(a) => cli::explain::run(&a),
    };
    if let Some(table) = cprl::gpu::profile::report(40) {
        eprintln!("\nCPRL_PROFILE: time per kernel (each dispatch submitted and waited for alone)\n{table}");
    }
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        let code = match e.downcast_ref::<cprl::Error>() {
            Some(cprl::Error::NoAdapter(_)) => 2,
            _ => 1,
        };
        std::process::exit(code);
    }
}

//! The progress bar of the commands that score images.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting images, labelled `msg`; indicatif draws it on stderr, and not at
/// all when stderr is not a terminal, so redirected output stays clean.
pub fn bar(msg: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} images, {per_sec}, ETA {eta}")
            .expect("a fixed template parses")
            .progress_chars("=> "),
    );
    bar.set_message(msg.to_string());
    bar
}

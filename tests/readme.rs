//! The README's "Training loop in a few lines" shows exactly the code of
//! `examples/training_loop.rs` between its `// README begin` and `// README end`
//! markers, so the README cannot drift from code that compiles (`cargo build
//! --examples`, and `cargo test` builds the examples too).

/// The lines of `text` strictly between the marker lines, with the indentation of the
/// first one removed.
fn between<'a>(text: &'a str, begin: &str, end: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let at = |m: &str| {
        lines
            .iter()
            .position(|l| l.trim() == m)
            .unwrap_or_else(|| panic!("no line {m:?}"))
    };
    let (b, e) = (at(begin), at(end));
    let body = &lines[b + 1..e];
    let indent = body.first().map_or(0, |l| l.len() - l.trim_start().len());
    body.iter()
        .map(|l| l.get(indent..).unwrap_or(l.trim_start()))
        .collect()
}

#[test]
fn readme_training_loop_is_the_example_code() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/training_loop.rs")).unwrap();
    let section = readme
        .split("## Training loop in a few lines")
        .nth(1)
        .expect("README has the section");
    let shown = between(section, "```rust", "```");
    let code = between(&example, "// README begin", "// README end");
    assert!(
        code.len() > 10,
        "the example's marked region is nearly empty: {code:?}"
    );
    assert_eq!(shown, code, "README and examples/training_loop.rs differ");
}

//! Every WGSL file in `shaders/` parses and validates with naga, so a shader error
//! fails here with its file and line, before any device sees it.

#[test]
fn every_shader_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut failures = Vec::new();
    let mut count = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
    {
        count += 1;
        let src = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let module = match naga::front::wgsl::parse_str(&src) {
            Ok(m) => m,
            Err(e) => {
                failures.push(e.emit_to_string_with_path(&src, &name));
                continue;
            }
        };
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        );
        if let Err(e) = validator.validate(&module) {
            failures.push(e.emit_to_string_with_path(&src, &name));
        }
    }
    assert!(count > 0, "no shaders found in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} shader(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_broken_shader_is_reported_with_its_line() {
    let src = "@compute @workgroup_size(1)\nfn main() {\n    let x: f32 = 1u;\n}\n";
    let module = naga::front::wgsl::parse_str(src);
    let msg = match module {
        Err(e) => e.emit_to_string_with_path(src, "broken.wgsl"),
        Ok(m) => naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&m)
        .map(|_| String::new())
        .unwrap_or_else(|e| e.emit_to_string_with_path(src, "broken.wgsl")),
    };
    assert!(msg.contains("broken.wgsl:3"), "no line number in: {msg}");
}

/// Shaders kept as a base shader plus their differences (tools/variants/*.variant):
/// each committed file must be what tools/variants/apply.py makes, so that an edit of
/// the base reaches the variant. Needs python3 (see [`python3_or_skip`]).
#[test]
fn shader_variants_are_up_to_date() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut variants: Vec<_> = std::fs::read_dir(root.join("tools/variants"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "variant"))
        .collect();
    variants.sort();
    assert!(!variants.is_empty(), "no variants in tools/variants");
    for variant in variants {
        let text = std::fs::read_to_string(&variant).unwrap();
        let out = text
            .lines()
            .find_map(|l| l.strip_prefix("//@@ out "))
            .unwrap_or_else(|| panic!("{}: no '//@@ out' line", variant.display()));
        let made = std::env::temp_dir().join(format!("cprl_variant_{}.wgsl", std::process::id()));
        let Some(mut python) = python3_or_skip("shader_variants_are_up_to_date") else {
            return;
        };
        let status = python
            .arg(root.join("tools/variants/apply.py"))
            .arg(&variant)
            .arg(root)
            .arg(&made)
            .status()
            .expect("python3 ran a moment ago");
        assert!(
            status.success(),
            "{}: apply.py failed: {status}",
            variant.display()
        );
        let made_text = std::fs::read_to_string(&made).unwrap();
        let _ = std::fs::remove_file(&made);
        let committed = std::fs::read_to_string(root.join(out)).unwrap();
        assert!(
            made_text == committed,
            "{out} is not what {} makes: run tools/variants/regen.sh",
            variant.display()
        );
    }
}

/// The generated small-channel backward-data shaders (tools/conv2d/gen_bd_small.py) are
/// what the generator makes, so an edit of the generator reaches them. Needs python3
/// (see [`python3_or_skip`]).
#[test]
fn generated_conv2d_shaders_are_up_to_date() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for version in ["5", "6"] {
        let Some(mut python) = python3_or_skip("generated_conv2d_shaders_are_up_to_date") else {
            return;
        };
        let out = python
            .arg(root.join("tools/conv2d/gen_bd_small.py"))
            .arg(version)
            .output()
            .expect("python3 ran a moment ago");
        assert!(
            out.status.success(),
            "gen_bd_small.py {version} failed: {}",
            out.status
        );
        let file = format!("shaders/conv2d_backward_data_v{version}.wgsl");
        let committed = std::fs::read_to_string(root.join(&file)).unwrap();
        assert!(
            String::from_utf8(out.stdout).unwrap() == committed,
            "{file} is not what tools/conv2d/gen_bd_small.py {version} makes: run tools/conv2d/regen.sh"
        );
    }
}

/// A `python3` command for the generator checks. Without python3 the check fails with
/// the reason (a silent skip would let a stale generated shader through), unless
/// `CPRL_SKIP_PYTHON=1` asks to skip it, which is then said on stderr.
fn python3_or_skip(test: &str) -> Option<std::process::Command> {
    let found = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(std::process::Command::new("python3"));
    }
    if std::env::var("CPRL_SKIP_PYTHON").is_ok_and(|v| v == "1") {
        eprintln!("python3 not found: {test} skipped (CPRL_SKIP_PYTHON=1)");
        return None;
    }
    panic!(
        "{test} needs python3 to check that generated shaders are current: install it \
         (apt-get install python3) or set CPRL_SKIP_PYTHON=1 to skip this check"
    );
}

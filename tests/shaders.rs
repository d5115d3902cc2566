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

/// Every generated shader (tools/shaders.py lists them: unrolled kernels, variants of a
/// base shader, PAV V3 at each private-array size) is what its source makes, so an edit
/// of a generator, a template or a base reaches every file made from it. Needs python3
/// (see [`python3_or_skip`]).
#[test]
fn generated_shaders_are_up_to_date() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(mut python) = python3_or_skip("generated_shaders_are_up_to_date") else {
        return;
    };
    let out = python
        .arg(root.join("tools/shaders.py"))
        .arg("--check")
        .output()
        .expect("python3 ran a moment ago");
    assert!(
        out.status.success(),
        "tools/shaders.py --check failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The check above fails, naming the file, when a generated shader is edited by hand:
/// run on a copy of `shaders/` and `tools/` with one generated file changed.
#[test]
fn a_hand_edited_generated_shader_is_named() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(mut python) = python3_or_skip("a_hand_edited_generated_shader_is_named") else {
        return;
    };
    let copy = std::env::temp_dir().join(format!("cprl_shaders_check_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    for dir in ["shaders", "tools"] {
        copy_dir(&root.join(dir), &copy.join(dir));
    }
    let edited = copy.join("shaders/softrank_pav_forward_v3_c4.wgsl");
    let text = std::fs::read_to_string(&edited).unwrap();
    std::fs::write(
        &edited,
        text.replace("const CMAX: u32 = 4u;", "const CMAX: u32 = 5u;"),
    )
    .unwrap();
    let out = python
        .arg(copy.join("tools/shaders.py"))
        .arg("--check")
        .arg("--root")
        .arg(&copy)
        .output()
        .expect("python3 ran a moment ago");
    let _ = std::fs::remove_dir_all(&copy);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the edit went unnoticed");
    assert!(
        stderr.contains("shaders/softrank_pav_forward_v3_c4.wgsl") && !stderr.contains("_c8"),
        "the report names the wrong files:\n{stderr}"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
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

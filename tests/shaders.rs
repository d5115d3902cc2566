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

/// softrank_pav_forward_v4.wgsl is generated from the v3 forward and a template
/// (tools/pav/gen_v4.py): the committed file must be what the generator makes, so that
/// an edit of v3's shared phases reaches v4. Needs python3 (skipped without it).
#[test]
fn generated_pav_v4_shader_is_up_to_date() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("cprl_pav_v4_{}.wgsl", std::process::id()));
    let status = std::process::Command::new("python3")
        .arg(root.join("tools/pav/gen_v4.py"))
        .arg(root.join("shaders/softrank_pav_forward_v3.wgsl"))
        .arg(root.join("tools/pav/v4_template.wgsl"))
        .arg(&out)
        .status();
    let Ok(status) = status else {
        eprintln!("python3 not found: generated_pav_v4_shader_is_up_to_date skipped");
        return;
    };
    assert!(status.success(), "tools/pav/gen_v4.py failed: {status}");
    let made = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let committed = std::fs::read_to_string(root.join("shaders/softrank_pav_forward_v4.wgsl")).unwrap();
    assert!(
        made == committed,
        "shaders/softrank_pav_forward_v4.wgsl is not what tools/pav/gen_v4.py makes: run tools/pav/regen.sh"
    );
}

//! The rules by which a Rust uniform is held to a shader's binding-0 struct
//! (`cprl::gpu::check_shader`), on small shaders, without a device. Every kernel of the
//! program meets the same check the first time it is launched with a uniform type, so
//! the kernel tests run it on every shader in `shaders/`.

use cprl::gpu::{Uniform, UniformLayout, check_shader};

/// A shader whose binding-0 uniform is `struct Params { body }`.
fn shader(body: &str) -> String {
    format!(
        "struct Params {{ {body} }}\n\
         @group(0) @binding(0) var<uniform> p: Params;\n\
         @group(0) @binding(1) var<storage, read_write> y: array<f32>;\n\
         @compute @workgroup_size(1)\n\
         fn main() {{ y[0] = f32(p.n); }}\n"
    )
}

cprl::uniform! {
    /// Rank-8 shapes as the reductions pass them: `[u32; 8]` beside WGSL's
    /// `array<vec4<u32>, 2>`, and padding named differently on the two sides.
    struct Shapes {
        n: u32,
        scale: f32,
        _pad: [u32; 2],
        shape: [u32; 8],
    }
}

const SHAPES_WGSL: &str = "n: u32, scale: f32, _p0: u32, _p1: u32, shape: array<vec4<u32>, 2>";

#[test]
fn arrays_match_by_their_words_and_padding_by_its_place() {
    check_shader(&shader(SHAPES_WGSL), Shapes::LAYOUT).unwrap();
}

#[test]
fn a_renamed_field_is_named_with_both_names() {
    let e = check_shader(
        &shader("n: u32, gain: f32, _p0: u32, _p1: u32, shape: array<vec4<u32>, 2>"),
        Shapes::LAYOUT,
    )
    .unwrap_err();
    assert!(
        e.contains("byte 4") && e.contains("`scale: f32`") && e.contains("`gain: f32`"),
        "{e}"
    );
}

#[test]
fn a_retyped_field_is_refused() {
    let e = check_shader(
        &shader("n: i32, scale: f32, _p0: u32, _p1: u32, shape: array<vec4<u32>, 2>"),
        Shapes::LAYOUT,
    )
    .unwrap_err();
    assert!(e.contains("`n: u32`") && e.contains("`n: i32`"), "{e}");
}

cprl::uniform! {
    struct Swapped {
        scale: f32,
        n: u32,
        _pad: [u32; 2],
        shape: [u32; 8],
    }
}

#[test]
fn two_fields_in_another_order_are_refused() {
    let e = check_shader(&shader(SHAPES_WGSL), Swapped::LAYOUT).unwrap_err();
    assert!(e.contains("byte 0") && e.contains("byte 4"), "{e}");
}

#[test]
fn a_shorter_array_in_the_shader_leaves_rust_words_it_never_reads() {
    let e = check_shader(
        &shader("n: u32, scale: f32, _p0: u32, _p1: u32, shape: vec4<u32>"),
        Shapes::LAYOUT,
    )
    .unwrap_err();
    assert!(e.contains("byte 32: Rust `shape[4]: u32`, WGSL a gap"), "{e}");
}

cprl::uniform! {
    /// One word, passed as the 16 bytes a uniform binding is rounded up to.
    struct Rounded {
        n: u32,
        _pad: [u32; 3],
    }
}

cprl::uniform! {
    struct JustN {
        n: u32,
    }
}

#[test]
fn rust_may_run_past_the_shaders_struct_with_padding_but_not_stop_short_of_it() {
    check_shader(&shader("n: u32"), Rounded::LAYOUT).unwrap();
    let e = check_shader(&shader("n: u32, scale: f32"), JustN::LAYOUT).unwrap_err();
    assert!(
        e.contains("spans 8 bytes, Rust `JustN` only 4 bytes")
            && e.contains("byte 4: WGSL `scale: f32`, nothing in Rust"),
        "{e}"
    );
}

cprl::uniform! {
    struct PadWhereTheShaderReads {
        n: u32,
        _scale: f32,
        _pad: [u32; 2],
        shape: [u32; 8],
    }
}

#[test]
fn rust_padding_where_the_shader_reads_a_field_is_refused() {
    let e = check_shader(&shader(SHAPES_WGSL), PadWhereTheShaderReads::LAYOUT).unwrap_err();
    assert!(e.contains("`scale: f32`"), "{e}");
}

#[test]
fn a_word_the_shader_leaves_as_padding_may_carry_a_rust_field() {
    // One Rust struct serves versions of a kernel that read less than the others.
    check_shader(
        &shader("n: u32, _unused: f32, _p0: u32, _p1: u32, shape: array<vec4<u32>, 2>"),
        Shapes::LAYOUT,
    )
    .unwrap();
}

cprl::uniform! {
    /// A vec3 followed by a scalar: WGSL leaves no gap (the scalar fills the vec3's
    /// fourth word), which Rust spells as three words and one.
    struct Vec3AndScalar {
        n: u32,
        _pad: [u32; 3],
        dims: [u32; 3],
        scale: f32,
    }
}

#[test]
fn a_vec3_is_three_words_and_a_gap_may_stand_for_rust_padding() {
    check_shader(
        &shader("n: u32, dims: vec3<u32>, scale: f32"),
        Vec3AndScalar::LAYOUT,
    )
    .unwrap();
}

#[test]
fn a_shader_without_a_uniform_at_binding_0_is_refused_when_rust_binds_one() {
    let src = "@group(0) @binding(1) var<storage, read_write> y: array<f32>;\n\
               @compute @workgroup_size(1)\nfn main() { y[0] = 1.0; }\n";
    let e = check_shader(src, Shapes::LAYOUT).unwrap_err();
    assert!(e.contains("binds no uniform"), "{e}");
}

#[test]
fn a_shader_that_does_not_parse_is_left_to_the_drivers_compiler() {
    // The device reports it with its line (tests/gpu.rs); the layout check has nothing
    // to compare.
    check_shader("fn main( {", Shapes::LAYOUT).unwrap();
}

#[test]
fn every_shader_binds_a_uniform_of_plain_words_at_binding_0() {
    // Held to an empty layout, a shader's uniform shows every word it has; none may be of
    // a type the comparison cannot follow (a nested struct, a matrix, f16), or the check
    // that launches run would compare less than it claims.
    const NOTHING: UniformLayout = UniformLayout {
        name: "nothing",
        size: 0,
        fields: &[],
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let e = check_shader(&src, &NOTHING).expect_err("every shader has a uniform");
        assert!(
            e.contains("nothing in Rust") && !e.contains("not a u32/i32/f32"),
            "{}: {e}",
            path.display()
        );
        seen += 1;
    }
    assert!(seen > 80, "only {seen} shaders found in {}", dir.display());
}

//! The `Params` uniform of every kernel, described field by field so that it can be
//! held to the shader's own struct.
//!
//! wgpu checks only that the bound bytes are at least as many as the shader's struct
//! needs: a field added, dropped, reordered or retyped on one side alone makes the
//! kernel read the wrong words, silently. So every Rust uniform is declared with
//! [`uniform!`](crate::uniform), which records each field's name, offset and scalar
//! type; every [`Kernel`](super::Kernel) names its uniform type; every
//! [`Launch`](super::Launch) carries the layout of the value it binds; and the first
//! time a device builds a shader, [`check_shader`] reflects the shader's binding-0
//! struct with naga and compares it with the Rust layout word by word.
//!
//! The rules of the comparison: both sides are flattened into 4-byte words (arrays and
//! vectors by their stride, so Rust's `[u32; 8]` matches WGSL's
//! `array<vec4<u32>, 2>`). A word of a field whose name starts with `_` is padding. A
//! shader names as padding the words it does not read, and Rust may fill them (one
//! Rust struct often serves every version of a kernel, and some versions read less);
//! but Rust padding must be padding or a gap in the shader, never a word it reads. Every other word must have the same offset, field name and scalar type on
//! both sides, and the Rust struct must cover the shader's (it may run past its end
//! with padding).

use std::fmt;

/// The scalar type of one 4-byte word of a uniform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    U32,
    I32,
    F32,
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scalar::U32 => "u32",
            Scalar::I32 => "i32",
            Scalar::F32 => "f32",
        })
    }
}

/// A Rust type a uniform field may have: a 4-byte scalar or an array of them.
pub trait Words {
    const SCALAR: Scalar;
    /// 4-byte words the type spans.
    const COUNT: usize;
}

macro_rules! scalar_words {
    ($($t:ty => $s:ident),*) => {$(
        impl Words for $t {
            const SCALAR: Scalar = Scalar::$s;
            const COUNT: usize = 1;
        }
    )*};
}
scalar_words!(u32 => U32, i32 => I32, f32 => F32);

impl<T: Words, const N: usize> Words for [T; N] {
    const SCALAR: Scalar = T::SCALAR;
    const COUNT: usize = N * T::COUNT;
}

/// One field of a Rust uniform.
#[derive(Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    /// Byte offset in the struct.
    pub offset: usize,
    pub scalar: Scalar,
    /// 4-byte words the field spans.
    pub words: usize,
}

/// A Rust uniform struct as the shader must see it.
#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    /// The Rust type's name, for messages.
    pub name: &'static str,
    /// `size_of` the struct in bytes.
    pub size: usize,
    pub fields: &'static [Field],
}

/// A `#[repr(C)]` plain-old-data struct bound at binding 0. Implement it with
/// [`uniform!`](crate::uniform), never by hand.
pub trait Uniform: bytemuck::Pod {
    const LAYOUT: &'static Layout;
}

/// The bytes of one uniform value and the layout they follow; see [`uniform`].
#[derive(Clone, Copy)]
pub struct UniformArg<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) layout: &'static Layout,
}

/// The uniform argument of a [`Launch`](super::Launch).
pub fn uniform<T: Uniform>(value: &T) -> UniformArg<'_> {
    UniformArg {
        bytes: bytemuck::bytes_of(value),
        layout: T::LAYOUT,
    }
}

/// Declares a uniform struct: `#[repr(C)]`, `Pod`, and its [`Uniform`] layout. Field
/// types are `u32`, `i32`, `f32` or (nested) arrays of them; name padding `_…`.
///
/// ```
/// cprl::uniform! {
///     /// The shader's `struct Params`.
///     struct Params {
///         n: u32,
///         scale: f32,
///         _pad: [u32; 2],
///     }
/// }
/// ```
#[macro_export]
macro_rules! uniform {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $ty),*
        }

        impl $crate::gpu::Uniform for $name {
            const LAYOUT: &'static $crate::gpu::UniformLayout = &$crate::gpu::UniformLayout {
                name: stringify!($name),
                size: ::std::mem::size_of::<$name>(),
                fields: &[$($crate::gpu::UniformField {
                    name: stringify!($field),
                    offset: ::std::mem::offset_of!($name, $field),
                    scalar: <$ty as $crate::gpu::UniformWords>::SCALAR,
                    words: <$ty as $crate::gpu::UniformWords>::COUNT,
                }),*],
            };
        }
    };
}

/// One 4-byte word of a flattened struct.
#[derive(Clone, Debug, PartialEq)]
struct Word {
    offset: usize,
    /// The field it belongs to, with `[i]` for an element past the first.
    name: String,
    scalar: Option<Scalar>,
    pad: bool,
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scalar {
            Some(s) => write!(f, "`{}: {s}`", self.name),
            None => write!(f, "`{}` (not a u32/i32/f32)", self.name),
        }
    }
}

fn element_name(field: &str, i: usize) -> String {
    if i == 0 {
        field.to_string()
    } else {
        format!("{field}[{i}]")
    }
}

impl Layout {
    fn words(&self) -> Vec<Word> {
        let mut out = Vec::new();
        for f in self.fields {
            for i in 0..f.words {
                out.push(Word {
                    offset: f.offset + 4 * i,
                    name: element_name(f.name, i),
                    scalar: Some(f.scalar),
                    pad: f.name.starts_with('_'),
                });
            }
        }
        out
    }
}

/// The 4-byte words of a WGSL type at `offset`: their offsets and scalar types.
fn wgsl_words(
    module: &naga::Module,
    ty: naga::Handle<naga::Type>,
    offset: usize,
    out: &mut Vec<(usize, Option<Scalar>)>,
) {
    let scalar = |s: &naga::Scalar| match (s.kind, s.width) {
        (naga::ScalarKind::Uint, 4) => Some(Scalar::U32),
        (naga::ScalarKind::Sint, 4) => Some(Scalar::I32),
        (naga::ScalarKind::Float, 4) => Some(Scalar::F32),
        _ => None,
    };
    match &module.types[ty].inner {
        naga::TypeInner::Scalar(s) => out.push((offset, scalar(s))),
        naga::TypeInner::Vector { size, scalar: s } => {
            for i in 0..*size as usize {
                out.push((offset + 4 * i, scalar(s)));
            }
        }
        naga::TypeInner::Array {
            base,
            size: naga::ArraySize::Constant(n),
            stride,
        } => {
            for i in 0..n.get() as usize {
                wgsl_words(module, *base, offset + i * *stride as usize, out);
            }
        }
        // Structs in structs, matrices, runtime-sized arrays: no uniform uses them; a
        // word that matches nothing makes the comparison name it.
        _ => out.push((offset, None)),
    }
}

/// The words of one struct member, named after it.
fn member_words(module: &naga::Module, name: &str, ty: naga::Handle<naga::Type>, offset: usize) -> Vec<Word> {
    let mut raw = Vec::new();
    wgsl_words(module, ty, offset, &mut raw);
    raw.into_iter()
        .enumerate()
        .map(|(i, (offset, scalar))| Word {
            offset,
            name: element_name(name, i),
            scalar,
            pad: name.starts_with('_'),
        })
        .collect()
}

/// The struct bound at `@group(0) @binding(0)` as a uniform: its name, span and words.
fn binding0_struct(module: &naga::Module) -> Option<(String, usize, Vec<Word>)> {
    let (_, var) = module.global_variables.iter().find(|(_, v)| {
        v.space == naga::AddressSpace::Uniform
            && v.binding.as_ref().is_some_and(|b| b.group == 0 && b.binding == 0)
    })?;
    let ty = &module.types[var.ty];
    let naga::TypeInner::Struct { members, span } = &ty.inner else {
        let words = member_words(module, "(whole uniform)", var.ty, 0);
        return Some(("(not a struct)".into(), words.len() * 4, words));
    };
    let mut words = Vec::new();
    for m in members {
        let name = m.name.as_deref().unwrap_or_default();
        words.extend(member_words(module, name, m.ty, m.offset as usize));
    }
    Some((ty.name.clone().unwrap_or_default(), *span as usize, words))
}

/// Compares `rust` with the binding-0 uniform struct of the WGSL `source`. `Ok` when
/// they agree, when the source does not parse (the driver's compiler then reports the
/// error with its line) or when the shader binds no uniform at 0 and `rust` is empty.
/// The error lists every word that differs.
pub fn check_shader(source: &str, rust: &Layout) -> Result<(), String> {
    let Ok(module) = naga::front::wgsl::parse_str(source) else {
        return Ok(());
    };
    let Some((wgsl_name, span, wgsl)) = binding0_struct(&module) else {
        return if rust.fields.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the shader binds no uniform at @binding(0), but Rust passes `{}`",
                rust.name
            ))
        };
    };
    let rust_words = rust.words();
    let mut problems = Vec::new();
    // Rust may be longer (uniform buffers are often rounded up to 16 bytes): its
    // words past the shader's end are then gaps there, which must be padding.
    if span > rust.size {
        problems.push(format!(
            "WGSL `{wgsl_name}` spans {span} bytes, Rust `{}` only {} bytes",
            rust.name, rust.size
        ));
    }
    for r in &rust_words {
        let w = wgsl.iter().find(|w| w.offset == r.offset);
        let agrees = match w {
            None => r.pad,
            // A shader declares the words it does not read as padding; Rust may
            // still fill them (one struct serves several versions of a kernel).
            Some(w) if w.pad => true,
            Some(_) if r.pad => false,
            Some(w) => w.name == r.name && w.scalar == r.scalar,
        };
        if !agrees {
            let theirs = w.map_or("a gap".to_string(), |w| w.to_string());
            problems.push(format!("byte {}: Rust {r}, WGSL {theirs}", r.offset));
        }
    }
    for w in wgsl.iter().filter(|w| !w.pad) {
        if !rust_words.iter().any(|r| r.offset == w.offset) {
            problems.push(format!("byte {}: WGSL {w}, nothing in Rust", w.offset));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "uniform `{}` does not match the shader's `{wgsl_name}`: {}",
            rust.name,
            problems.join("; ")
        ))
    }
}

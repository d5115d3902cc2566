//! The machine the program runs on, as reports and benchmarks name it.

/// The CPU's model, the `model name` of /proc/cpuinfo (what `lscpu` prints); None
/// where that file is missing (not Linux) or names none. On a CPU driver every speed
/// depends on it, so every figure carries it.
pub fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    model_name(&text)
}

/// `GALLIUM_OVERRIDE_CPU_CAPS` where set and not empty: Mesa's switch that narrows the
/// instruction set its CPU drivers compile for (`avx`: AVX2 without AVX-512), which
/// changes their speed 2-5x (benches/NOTES.md).
pub fn mesa_cpu_caps_override() -> Option<String> {
    std::env::var("GALLIUM_OVERRIDE_CPU_CAPS")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The first `model name` in /proc/cpuinfo's text.
fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn model_name_is_the_first_one() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n\
                    processor\t: 1\nmodel name\t: AMD EPYC\n";
        assert_eq!(super::model_name(text).as_deref(), Some("AMD EPYC"));
        assert_eq!(super::model_name("processor\t: 0\n"), None);
    }
}

//! Builds the eBPF programs (`probe-ebpf`, binary `httptop-ebpf`) with aya-build
//! (aya-template's way) so `include_bytes_aligned!` can embed them. Nightly: bpf-linker is built
//! against the nightly's own libLLVM, so rustc and the linker share one LLVM (bpf-linker's must
//! be at least rustc's). The app's feature `bench-controls` builds the benchmark's control
//! programs into the object too.
use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?;
    let ebpf_dir = std::path::Path::new(&manifest_dir).join("../probe-ebpf");
    let ebpf_dir = ebpf_dir.to_str().context("non-UTF-8 path")?;
    let features: &[&str] = if std::env::var_os("CARGO_FEATURE_BENCH_CONTROLS").is_some() {
        &["bench-controls"]
    } else {
        &[]
    };
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "probe-ebpf",
            root_dir: ebpf_dir,
            features,
            ..Default::default()
        }],
        aya_build::Toolchain::Nightly,
    )
}

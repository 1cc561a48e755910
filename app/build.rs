//! Builds the eBPF probe with aya-build (aya-template's way) so `include_bytes_aligned!` can
//! embed it. Nightly: bpf-linker is built against the nightly's own libLLVM, so rustc and the
//! linker share one LLVM (bpf-linker's must be at least rustc's).
use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?;
    let probe_dir = std::path::Path::new(&manifest_dir).join("../probe-ebpf");
    let probe_dir = probe_dir.to_str().context("non-UTF-8 path")?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "probe-ebpf",
            root_dir: probe_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::Nightly,
    )
}

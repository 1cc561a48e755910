use which::which;

/// The crate links with `bpf-linker`, which cargo cannot declare as a dependency: rebuild when
/// it changes, and fail with one clear line when it is missing.
fn main() {
    match which("bpf-linker") {
        Ok(path) => println!("cargo:rerun-if-changed={}", path.display()),
        Err(_) => {
            println!(
                "cargo:warning=bpf-linker not found on PATH: run `cargo xtask setup` to install it"
            );
            std::process::exit(1);
        }
    }
}

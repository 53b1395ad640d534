//! Build script: links the `connect-lake` binary as a position-dependent executable on
//! Linux. A PIE of this size carries about 240,000 relative relocations that the loader
//! applies at every start, writing (and so faulting in, page by page) 4 MB of
//! `.data.rel.ro`: about 4 ms of each run, which a report of 70 ms feels. Without PIE the
//! linker resolves them once; the cost is that the binary's own code loads at a fixed
//! address (libraries, heap and stack stay randomised).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("linux-gnu") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=src/build.rs");
}

//! Builds the portable C core (cavium/src) into a static library with the same warning flags
//! as cavium/Makefile, warnings as errors.

fn main() {
    let src = std::path::Path::new("../src");
    for file in [
        "oum_seq.c",
        "oum_seq.h",
        "oum_atomic.h",
        "oum_siphash.c",
        "oum_siphash.h",
    ] {
        println!("cargo:rerun-if-changed={}", src.join(file).display());
    }
    cc::Build::new()
        .file(src.join("oum_seq.c"))
        .file(src.join("oum_siphash.c"))
        .include(src)
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .flag_if_supported("-Wpedantic")
        .flag_if_supported("-Wshadow")
        .flag_if_supported("-Wconversion")
        .flag_if_supported("-Wstrict-prototypes")
        .flag_if_supported("-Wmissing-prototypes")
        .compile("oumseq");
}

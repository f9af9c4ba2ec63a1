fn main() -> std::process::ExitCode {
    dataplane::logging::init();
    sequencer_dpdk::cli::main()
}

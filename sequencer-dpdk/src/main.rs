fn main() -> std::process::ExitCode {
    sequencer_dpdk::cli::main()
}

fn main() -> std::process::ExitCode {
    dataplane::logging::init();
    replica::cli::main()
}

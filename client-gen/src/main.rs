fn main() -> std::process::ExitCode {
    dataplane::logging::init();
    client_gen::cli::main()
}

fn main() -> std::process::ExitCode {
    client_gen::cli::main()
}

fn main() -> std::process::ExitCode {
    replica::cli::main()
}

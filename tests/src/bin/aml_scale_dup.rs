//! The `kubectl-aml-scale` plugin's `main` under another name, for process-level tests.

fn main() -> std::process::ExitCode {
    aml_core::cli::main::<kubectl_aml_scale::Cli>()
}

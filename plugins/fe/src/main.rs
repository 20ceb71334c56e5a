//! `kubectl-aml-fe`: run as `kubectl aml fe …`.

fn main() -> std::process::ExitCode {
    aml_core::cli::main::<kubectl_aml_fe::Cli>()
}

//! `kubectl-aml-attach`: run as `kubectl aml attach …`.

fn main() -> std::process::ExitCode {
    aml_core::cli::main::<kubectl_aml_attach::Cli>()
}

//! `kubectl-aml-deploy`: run as `kubectl aml deploy …`.

fn main() -> std::process::ExitCode {
    aml_core::cli::main::<kubectl_aml_deploy::Cli>()
}

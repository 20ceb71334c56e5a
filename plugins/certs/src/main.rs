//! `kubectl-aml-certs`: run as `kubectl aml certs …`.

fn main() -> std::process::ExitCode {
    aml_core::cli::main::<kubectl_aml_certs::Cli>()
}

//! `kubectl-aml-scale`: run as `kubectl aml scale …`.

fn main() -> std::process::ExitCode {
    aml_core::cli::main::<kubectl_aml_scale::Cli>()
}

//! End-to-end tests. Plugins run in-process (a few as processes) against the fake API server, and
//! the machine's real kubectl runs against the fake to prove it answers like a real API server.
//!
//! - `fake`, `fake_protocol`: the fake's API behaviour seen through kube-rs (conflicts, selectors,
//!   paging, patches, deletion with preconditions and finalizers; watch, scale, discovery, auth).
//! - `kubectl`: the real kubectl (get, get -o yaml, apply --server-side, scale, delete) over HTTP
//!   and HTTPS with a token, for several client versions picked through `/version`.
//! - `fe_status`, `fe_cleanup`, `fe_cleanup_failures`: every behaviour of `kubectl aml fe`, each
//!   failure mode included.
//! - `certs`, `certs_rotate`, `certs_openssl`: `kubectl aml certs`, each bad input, and our
//!   fingerprints and key-match answers against openssl's on the same files.
//! - `scale`: `kubectl aml scale plan` and `simulate` on the sample traces, every output format.
//! - `attach`, `attach_verbs`: every verb of `kubectl aml attach` against the fake ARM, through the
//!   real Azure CLI credential path; `attach_checks`, `attach_inputs`: each pre-write check;
//!   `attach_arm`: ARM failures, retries, completion patterns, timeouts, credentials, settings;
//!   `attach_fidelity`: our requests against the real SDKs' captures; `attach_process`: the binary.
//! - `deploy`, `deploy_update`, `deploy_show`, `deploy_ops`: every verb of `kubectl aml deploy`
//!   against the fake ARM (v1 knobs and files, v1 checks, traffic, keys, tokens, logs, show, list,
//!   delete) and its guards in the fake cluster (GPU nodes, HorizontalPodAutoscalers);
//!   `deploy_failures`: failed, busy and rejected creates; `deploy_process`: the binary.
//! - `fake_arm`: the fake ARM's own protocol (token, spec checks, paging).
//! - `process`: the plugin as a process: help, exit codes, stderr, logs without secrets, and
//!   dispatch through `kubectl aml fe`.
//! - `router_*`: `kubectl aml fe serve` as a process against the fake API server, with scoring
//!   replicas that are real local servers and curl/openssl as clients (`router_env` holds the
//!   helpers): routes and answers, auth, limits and failures, discovery churn and traffic
//!   splits under load, TLS and rotation, drain and start-up.

mod arm_deadlines;
mod attach;
mod attach_arm;
mod attach_checks;
mod attach_fidelity;
mod attach_inputs;
mod attach_process;
mod attach_reattach;
mod attach_resume;
mod attach_verbs;
mod autoscale_env;
mod autoscale_leader;
mod autoscale_live;
mod autoscale_replay;
mod autoscale_router;
mod autoscale_status;
mod certs;
mod certs_openssl;
mod certs_process;
mod certs_resume;
mod certs_rotate;
mod common;
mod completion;
mod demo;
mod deploy;
mod deploy_failures;
mod deploy_ops;
mod deploy_process;
mod deploy_show;
mod deploy_update;
mod fake;
mod fake_arm;
mod fake_protocol;
mod fault_matrix;
mod fault_matrix_cluster;
mod fe_cleanup;
mod fe_cleanup_failures;
mod fe_install;
mod fe_status;
mod kubectl;
mod outputs;
mod process;
mod router_auth;
mod router_churn;
mod router_env;
mod router_limits;
mod router_load;
mod router_process;
mod router_routes;
mod router_tls;
mod router_tokens;
mod sandbox_arm;
mod sandbox_cluster;
mod sandbox_program;
mod sandbox_replicas;
mod scale;
mod scale_limits;
mod secrets_output;
mod umbrella;

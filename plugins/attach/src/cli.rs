//! Command line of `kubectl aml attach`, spelled like `az ml compute attach` and the v1 SDK's
//! attach/provisioning configurations.

use std::path::PathBuf;

use aml_core::cli::{AzureArgs, EXIT_CODES_HELP, KubeArgs, OutputArgs};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Azure ML computes backed by a Kubernetes cluster: attach, create, detach, list, show
#[derive(Debug, Parser)]
#[command(name = "kubectl-aml-attach", version, after_help = EXIT_CODES_HELP)]
// -n means something else here than in the cluster plugins.
#[command(mut_arg("namespace", |a| a.help(
    "For `k8s`: the compute's namespace (default `default`); otherwise where azureml-fe runs, for the in-cluster checks and `reattach` [default: the context's namespace]"
)))]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: AttachCommand,
    #[command(flatten)]
    pub(crate) azure: AzureArgs,
    #[command(flatten)]
    pub(crate) kube: KubeArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AttachCommand {
    /// Attach an existing AKS cluster as a legacy `AKS` inference compute (v1)
    ///
    /// Checks before sending anything: the compute name, that the cluster exists and has the nodes
    /// and vCPUs its purpose needs, that its Kubernetes version is supported, the TLS options, that
    /// no other compute uses the cluster and, with a kubeconfig for the cluster, that azureml-fe is
    /// not already running in it (-n: where to look, default the context's namespace).
    #[command(after_help = EXIT_CODES_HELP)]
    Aks(AksArgs),
    /// Create a new AKS cluster from the workspace as an `AKS` inference compute (v1)
    #[command(after_help = EXIT_CODES_HELP)]
    Create(CreateArgs),
    /// Attach an AKS or Arc-connected cluster as a v2 `Kubernetes` compute
    ///
    /// -n/--namespace is the namespace the compute's workloads run in (default `default`); it must
    /// already exist, and the Azure ML extension must be installed on the cluster.
    #[command(name = "k8s", after_help = EXIT_CODES_HELP)]
    K8s(K8sArgs),
    /// Detach a compute from the workspace (the cluster and its azureml-fe objects stay)
    #[command(after_help = EXIT_CODES_HELP)]
    Detach(DetachArgs),
    /// List the AKS and Kubernetes computes of the workspace
    #[command(after_help = EXIT_CODES_HELP)]
    List(ListArgs),
    /// Show one compute
    #[command(after_help = EXIT_CODES_HELP)]
    Show(ShowArgs),
    /// Kubernetes versions AKS offers in a region (default and preview marked)
    #[command(after_help = EXIT_CODES_HELP)]
    Versions(VersionsArgs),
    /// Detach a compute and attach it again with the same settings, resumably
    ///
    /// The docs' re-attach as one command: read the compute's settings, export the TLS pair of
    /// secret azuremlfessl, detach, delete the azureml-fe objects (`fe cleanup`, the secret backed
    /// up), attach again with the same purpose, load balancer, TLS, identity and namespace. Each
    /// finished step is recorded in --state-dir: the same command again continues where an
    /// interruption or a failure stopped it. -n/--namespace: where azureml-fe runs.
    #[command(after_help = EXIT_CODES_HELP)]
    Reattach(ReattachArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReattachArgs {
    /// Compute name in the workspace
    pub name: String,
    /// Directory (created 0700) for the journal, the exported TLS pair and the secret's backup
    /// [default: ./reattach-NAME]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Go on while model services are active (they get no traffic until the attach is done)
    #[arg(long)]
    pub force: bool,
    /// Re-attach without asking for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// List the steps and the requests they send; send nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `--cluster-purpose` (the v1 SDK's values; `FastProd` is production).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Purpose {
    /// Production: at least 3 nodes and 12 vCPUs
    #[default]
    #[value(name = "FastProd")]
    FastProd,
    /// Dev-test: at least 1 node; not for production traffic
    #[value(name = "DevTest")]
    DevTest,
}

impl Purpose {
    /// The wire value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::FastProd => "FastProd",
            Self::DevTest => "DevTest",
        }
    }
}

/// `--load-balancer-type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum LoadBalancer {
    /// A public IP address
    #[default]
    #[value(name = "PublicIp")]
    PublicIp,
    /// An internal load balancer in --load-balancer-subnet
    #[value(name = "InternalLoadBalancer")]
    InternalLoadBalancer,
}

/// TLS and load-balancer options shared by `aks` and `create`.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct FrontEndArgs {
    /// Production (FastProd) or dev-test cluster
    #[arg(long, value_enum, value_name = "PURPOSE", default_value_t)]
    pub cluster_purpose: Purpose,
    /// How azureml-fe is exposed
    #[arg(long, value_enum, value_name = "TYPE", default_value_t)]
    pub load_balancer_type: LoadBalancer,
    /// Subnet of the internal load balancer
    #[arg(long, value_name = "SUBNET")]
    pub load_balancer_subnet: Option<String>,
    /// TLS with a Microsoft certificate for LABEL######.REGION.cloudapp.azure.com
    #[arg(long, value_name = "LABEL")]
    pub ssl_leaf_domain_label: Option<String>,
    /// Replace an existing domain with the same leaf label
    #[arg(long)]
    pub ssl_overwrite_existing_domain: bool,
    /// TLS with your certificate: the PEM certificate (chain) file
    #[arg(long, value_name = "FILE")]
    pub ssl_cert_pem_file: Option<PathBuf>,
    /// TLS with your certificate: the PEM private key file
    #[arg(long, value_name = "FILE")]
    pub ssl_key_pem_file: Option<PathBuf>,
    /// TLS with your certificate: the DNS name clients use (the certificate must cover it)
    #[arg(long, value_name = "NAME")]
    pub ssl_cname: Option<String>,
}

/// Flags of every verb that writes.
#[derive(Debug, Clone, Args)]
pub(crate) struct WriteArgs {
    /// Print the requests that would be sent (method, URL, body) and send none
    #[arg(long)]
    pub dry_run: bool,
    /// Return once Azure accepted the request; print the operation to check later
    #[arg(long)]
    pub no_wait: bool,
    /// Go on when a check fails (each failure is printed as a warning)
    #[arg(long)]
    pub skip_checks: bool,
}

impl WriteArgs {
    /// How the write is sent.
    pub(crate) fn mode(&self) -> aml_core::arm::WriteMode {
        aml_core::arm::WriteMode {
            dry_run: self.dry_run,
            no_wait: self.no_wait,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct AksArgs {
    /// Compute name in the workspace
    pub name: String,
    /// The AKS cluster's name
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "resource_id",
        required_unless_present = "resource_id"
    )]
    pub cluster: Option<String>,
    /// The cluster's resource group [default: -g]
    #[arg(long, value_name = "GROUP", requires = "cluster")]
    pub cluster_resource_group: Option<String>,
    /// The cluster's ARM id
    #[arg(long, value_name = "ID")]
    pub resource_id: Option<String>,
    #[command(flatten)]
    pub front_end: FrontEndArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Compute name in the workspace
    pub name: String,
    /// Number of nodes [default: 3, or 1 for DevTest]
    #[arg(long, value_name = "COUNT")]
    pub agent_count: Option<u32>,
    /// VM size of the nodes
    #[arg(long, value_name = "SIZE", default_value = "Standard_D3_v2")]
    pub vm_size: String,
    /// Region of the cluster [default: the workspace's]
    #[arg(long, value_name = "REGION")]
    pub location: Option<String>,
    /// Virtual network for the cluster (with --subnet-name)
    #[arg(long, value_name = "VNET", requires = "subnet_name")]
    pub vnet_name: Option<String>,
    /// Resource group of the virtual network [default: -g]
    #[arg(long, value_name = "GROUP", requires = "vnet_name")]
    pub vnet_resource_group: Option<String>,
    /// Subnet of the virtual network
    #[arg(long, value_name = "SUBNET", requires = "vnet_name")]
    pub subnet_name: Option<String>,
    /// Kubernetes service address range (CIDR)
    #[arg(long, value_name = "CIDR", requires = "vnet_name")]
    pub service_cidr: Option<String>,
    /// Kubernetes DNS service IP, inside --service-cidr
    #[arg(long, value_name = "IP", requires = "service_cidr")]
    pub dns_service_ip: Option<String>,
    /// Docker bridge address range (CIDR)
    #[arg(long, value_name = "CIDR", requires = "vnet_name")]
    pub docker_bridge_cidr: Option<String>,
    #[command(flatten)]
    pub front_end: FrontEndArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `--identity-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum IdentityType {
    /// An identity Azure creates for the compute
    #[value(name = "SystemAssigned")]
    SystemAssigned,
    /// Your identity (--user-assigned-identities)
    #[value(name = "UserAssigned")]
    UserAssigned,
}

#[derive(Debug, Args)]
pub(crate) struct K8sArgs {
    /// Compute name in the workspace
    pub name: String,
    /// The cluster's ARM id (managedClusters or connectedClusters)
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "cluster",
        required_unless_present = "cluster"
    )]
    pub resource_id: Option<String>,
    /// The cluster's name (in --cluster-resource-group)
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The cluster's resource group [default: -g]
    #[arg(long, value_name = "GROUP", requires = "cluster")]
    pub cluster_resource_group: Option<String>,
    /// --cluster names an Arc-connected cluster (Microsoft.Kubernetes/connectedClusters)
    #[arg(long, requires = "cluster")]
    pub arc: bool,
    /// The compute's managed identity
    #[arg(long, value_enum, value_name = "TYPE")]
    pub identity_type: Option<IdentityType>,
    /// User-assigned identity ids, comma-separated (only the first is used)
    #[arg(long, value_name = "ID[,ID…]", value_delimiter = ',')]
    pub user_assigned_identities: Vec<String>,
    /// Description of the compute
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Tags: KEY=VALUE, space- or comma-separated
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_delimiter = ',')]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DetachArgs {
    /// Compute name in the workspace
    pub name: String,
    /// Also delete the cluster (only for clusters Azure ML created with `create`)
    #[arg(long)]
    pub delete_cluster: bool,
    /// Detach without asking for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Compute name in the workspace
    pub name: String,
    /// Print secrets ARM returns (the TLS private key of sslConfiguration) instead of `<redacted>`
    #[arg(long)]
    pub show_secrets: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Print secrets ARM returns (the TLS private key of sslConfiguration) instead of `<redacted>`
    #[arg(long)]
    pub show_secrets: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VersionsArgs {
    /// Region [default: the workspace's]
    #[arg(long, short = 'l', value_name = "REGION")]
    pub location: Option<String>,
}

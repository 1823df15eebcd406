use std::path::PathBuf;

use anyhow::Context as _;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use infinity_orchestrator::config::OperatorConfig;
use infinity_orchestrator::crd::duration::HumanDuration;
use infinity_orchestrator::github::app_manifest::{app_manifest, ManifestRequest};
use infinity_orchestrator::github::permissions::Feature;
use infinity_orchestrator::scope::Scope;
use infinity_orchestrator::server::leader::LeaseTimings;
use infinity_orchestrator::server::{self, LeaderElection, RunOptions};
use infinity_orchestrator::shard::Shard;
use infinity_orchestrator::telemetry::{self, LogFormat};
use infinity_orchestrator::{crd, inventory, manifest, report};

/// Infinity Orchestrator: run a whole GitHub organization declaratively from Kubernetes.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The kubeconfig context to use, as kubectl's `--context`; the current context when unset. The kubeconfig is
    /// found as kubectl finds it: KUBECONFIG, else ~/.kube/config (or the in-cluster service account).
    #[arg(long, global = true)]
    context: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// The file name under which kubectl finds the binary as its plugin `kubectl infinity`.
const KUBECTL_PLUGIN: &str = "kubectl-infinity";

/// The command line, with usage and help naming `kubectl infinity` when run as that plugin.
fn parse_cli() -> Cli {
    let invoked_as = std::env::args_os().next().map(PathBuf::from);
    let plugin = invoked_as.as_deref().and_then(std::path::Path::file_name).is_some_and(|name| name == KUBECTL_PLUGIN);
    let mut command = Cli::command();
    if plugin {
        command = command.name(KUBECTL_PLUGIN).bin_name("kubectl infinity");
    }
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

/// The `--context` given, set once before any command connects (see [`kube_client`]).
static KUBE_CONTEXT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// A client for the `--context` given, else the default (in-cluster, KUBECONFIG or ~/.kube/config).
async fn kube_client() -> anyhow::Result<kube::Client> {
    let Some(context) = KUBE_CONTEXT.get().cloned().flatten() else {
        return kube::Client::try_default().await.context("connecting to the Kubernetes API server");
    };
    let kubeconfig =
        kube::config::Kubeconfig::read().context("reading the kubeconfig (KUBECONFIG, else ~/.kube/config)")?;
    if !kubeconfig.contexts.iter().any(|named| named.name == context) {
        let known: Vec<&str> = kubeconfig.contexts.iter().map(|named| named.name.as_str()).collect();
        anyhow::bail!("context {context:?} not found in the kubeconfig; its contexts: {}", known.join(", "));
    }
    let options = kube::config::KubeConfigOptions { context: Some(context.clone()), ..Default::default() };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("loading the kubeconfig context {context:?}"))?;
    kube::Client::try_from(config).context("connecting to the Kubernetes API server")
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator: every controller, until SIGINT or SIGTERM. Uses the in-cluster service account, or
    /// KUBECONFIG / ~/.kube/config outside a cluster.
    Run(Box<RunArgs>),
    /// Print the repository manifest (the architecture's config/repositories.json shape) of an Organization, from
    /// its Repository objects in the cluster.
    Manifest {
        /// Name of the Organization object (not the GitHub login).
        #[arg(long)]
        org: String,
        /// Namespace of the Organization; the kubeconfig context's namespace when unset, as kubectl.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
    /// Print the compliance report of an Organization: health and security of its repositories, worst first.
    Report {
        /// Name of the Organization object (not the GitHub login).
        #[arg(long)]
        org: String,
        /// Namespace of the Organization; the kubeconfig context's namespace when unset, as kubectl.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "md")]
        format: report::Format,
        /// A BuildPlan (in the same namespace) whose run the HTML page shows as a timeline.
        #[arg(long)]
        plan: Option<String>,
    },
    /// Print an Organization's dependency graph (SVG, Graphviz DOT or Mermaid), with dependency cycles and unhealthy
    /// repositories marked.
    Graph(GraphArgs),
    /// Print a BuildPlan's current run as an SVG timeline: one bar per repository from dispatch to conclusion,
    /// coloured by outcome, the critical path marked.
    PlanTimeline(PlanTimelineArgs),
    /// Print a GitHub App manifest (the manifest flow's JSON) asking for exactly the permissions and webhook events
    /// the enabled features need; post it to https://github.com/organizations/ORG/settings/apps/new.
    AppManifest(AppManifestArgs),
    /// Show what each Organization, BuildPlan and HealingPolicy of a namespace is doing (Ready, Reconciling,
    /// Stalled, and why), with repository counts and build progress, on one screen.
    Status {
        /// Namespace to show; the kubeconfig context's namespace when unset, as kubectl.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
    /// Print the CustomResourceDefinitions as YAML, or write one file per kind into a directory.
    Crd {
        /// Write `<kind>.yaml` files into this directory instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

/// Flags of `graph`.
#[derive(clap::Args)]
struct GraphArgs {
    /// Name of the Organization object (not the GitHub login).
    #[arg(long)]
    org: String,
    /// Namespace of the Organization; the kubeconfig context's namespace when unset, as kubectl.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "svg")]
    format: report::graph::GraphFormat,
}

/// Flags of `plan-timeline`.
#[derive(clap::Args)]
struct PlanTimelineArgs {
    /// Name of the BuildPlan object.
    name: String,
    /// Namespace of the BuildPlan; the kubeconfig context's namespace when unset, as kubectl.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
}

/// Flags of `app-manifest`.
#[derive(clap::Args)]
struct AppManifestArgs {
    /// The GitHub organization's login.
    #[arg(long)]
    org: String,
    /// The operator's webhook receiver, as GitHub reaches it (`https://HOST/webhook`).
    #[arg(long)]
    webhook_url: Option<String>,
    /// The App's homepage.
    #[arg(long, default_value = env!("CARGO_PKG_REPOSITORY"))]
    url: String,
    /// Leave a feature (and the permissions and events only it needs) out; repeatable: builds, health, security,
    /// healing, onboarding, webhooks.
    #[arg(long, value_name = "FEATURE", value_parser = parse_feature)]
    without: Vec<Feature>,
}

fn parse_feature(name: &str) -> Result<Feature, String> {
    let names: Vec<&str> = Feature::ALL.map(Feature::name).to_vec();
    Feature::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| format!("not one of {}", names.join(", ")))
}

/// Flags of `run`.
#[derive(clap::Args)]
struct RunArgs {
    /// Watch only this namespace instead of all namespaces.
    #[arg(long, env = "IO_NAMESPACE")]
    namespace: Option<String>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t, env = "IO_LOG_FORMAT")]
    log_format: LogFormat,
    /// Where /healthz, /readyz and /metrics listen.
    #[arg(long, default_value = "127.0.0.1:9090", env = "IO_METRICS_ADDR")]
    metrics_addr: std::net::SocketAddr,
    /// Where the GitHub webhook receiver (POST /webhook) listens; no receiver when unset.
    #[arg(long, env = "IO_WEBHOOK_ADDR")]
    webhook_addr: Option<std::net::SocketAddr>,
    /// Take part in leader election, so that of several replicas only one reconciles.
    #[arg(long, env = "IO_LEADER_ELECT")]
    leader_elect: bool,
    /// Namespace of the leader Lease; the pod's own namespace in a cluster.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    leader_election_namespace: String,
    /// Name of the leader Lease; a shard's replicas elect on `NAME-SHARD`.
    #[arg(long, default_value = "infinity-orchestrator")]
    lease_name: String,
    /// Own only the Organizations labelled `orchestrator.infinityxone.io/shard=SHARD` (and their Repositories,
    /// BuildPlans and HealingPolicies). Without it the operator owns the Organizations without that label.
    #[arg(long, env = "IO_SHARD")]
    shard: Option<Shard>,
    /// How long the Lease holds without renewal (for example 15s).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    lease_duration: std::time::Duration,
    /// How long the leader keeps trying to renew before it gives up.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    renew_deadline: std::time::Duration,
    /// How often the leader renews and followers look.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    retry_period: std::time::Duration,
    /// This replica's name in Events and in the Lease; the pod name in a cluster.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// The operator's configuration file (the shape of config/orchestrator.yml); built-in defaults without it.
    #[arg(long, env = "IO_CONFIG")]
    config: Option<PathBuf>,
    /// Override one configuration key, over the file and IO_<KEY> environment variables; repeatable. Keys:
    /// discovery.scan_interval, build.max_parallel, build.timeout_minutes, build.retry_attempts,
    /// build.poll_interval, monitoring.health_check_interval, monitoring.health_full_read_interval,
    /// monitoring.failure_threshold, monitoring.repository_metrics, monitoring.repository_metrics_limit,
    /// self_healing.auto_retry, self_healing.auto_update_dependencies, self_healing.create_issues,
    /// webhook.recovery_interval, budget.background_share_percent.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    HumanDuration::from(text).to_std().ok_or_else(|| format!("{text:?} is not a duration such as 500ms, 15s or 1m"))
}

fn main() -> anyhow::Result<()> {
    cap_malloc_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // Spawned, not run by `block_on` itself: `block_on` polls its future on this main thread, outside the worker
    // pool, so every wake-up of the controllers (an answer from the API server or GitHub, read by a worker) would
    // cross threads and cost a context switch, and they could never use a second core.
    runtime.block_on(async { tokio::spawn(run_command()).await? })
}

/// Caps glibc's malloc at one arena before any thread starts. By default it makes up to eight per core, one for
/// each thread that meets contention, and memory freed in one arena is not reused by the others: at 10,000
/// repositories eight arenas left the operator's resident set about 5 MiB higher for the same heap (150 against
/// 146 MiB), and two still peaked at 147–154 MiB where one peaks at 146–148 MiB, no slower (BENCHMARKS.md).
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

async fn run_command() -> anyhow::Result<()> {
    let cli = parse_cli();
    KUBE_CONTEXT.get_or_init(|| cli.context.clone());
    match cli.command {
        Command::Run(args) => run(*args).await,
        Command::Manifest { org, namespace } => {
            let repositories = read_repositories(&namespace_or_context(namespace).await?, &org).await?;
            print!("{}", manifest::build(&org, &repositories).to_json());
            Ok(())
        }
        Command::Report { org, namespace, format, plan } => {
            let namespace = namespace_or_context(namespace).await?;
            print!("{}", compliance_report(&org, &namespace, format, plan.as_deref()).await?);
            Ok(())
        }
        Command::Graph(args) => {
            print!("{}", graph(&args).await?);
            Ok(())
        }
        Command::PlanTimeline(args) => {
            print!("{}", plan_timeline(&args).await?);
            Ok(())
        }
        Command::AppManifest(args) => {
            let features: Vec<Feature> = Feature::ALL.into_iter().filter(|f| !args.without.contains(f)).collect();
            let request = ManifestRequest {
                org: &args.org,
                webhook_url: args.webhook_url.as_deref(),
                homepage: &args.url,
                features: &features,
            };
            let manifest = app_manifest(&request).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string_pretty(&manifest)?);
            Ok(())
        }
        Command::Status { namespace } => {
            print!("{}", status(namespace).await?);
            Ok(())
        }
        Command::Crd { out_dir } => print_crds(out_dir),
    }
}

/// `namespace`, else the kubeconfig context's (or the service account's) namespace, as kubectl.
async fn namespace_or_context(namespace: Option<String>) -> anyhow::Result<String> {
    match namespace {
        Some(namespace) => Ok(namespace),
        None => Ok(kube_client().await?.default_namespace().to_owned()),
    }
}

/// What `status` prints.
async fn status(namespace: Option<String>) -> anyhow::Result<String> {
    let client = kube_client().await?;
    let namespace = namespace.unwrap_or_else(|| client.default_namespace().to_owned());
    let (organizations, plans, policies) = inventory::namespace_objects(&client, &namespace).await?;
    let now = k8s_openapi::jiff::Timestamp::now();
    Ok(report::status::render(&namespace, &organizations, &plans, &policies, now))
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    telemetry::init(args.log_format);
    // A bad configuration stops the operator before it touches anything, naming the key.
    let config = OperatorConfig::load(args.config.as_deref(), &args.set).context("invalid configuration")?;
    let client = kube_client().await?;
    let identity = args
        .identity
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("infinity-orchestrator-{}", std::process::id()));
    let shard = args.shard.unwrap_or_default();
    let options = RunOptions {
        scope: args.namespace.map_or(Scope::AllNamespaces, Scope::Namespace),
        metrics_addr: args.metrics_addr,
        webhook_addr: args.webhook_addr,
        leader_election: args.leader_elect.then_some(LeaderElection {
            namespace: args.leader_election_namespace,
            lease_name: shard.lease_name(&args.lease_name),
            timings: LeaseTimings {
                lease_duration: args.lease_duration,
                renew_deadline: args.renew_deadline,
                retry_period: args.retry_period,
            },
        }),
        identity,
        config,
        shard,
    };
    tracing::info!(?options, "starting");
    server::run(client, options, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn read_repositories(
    namespace: &str,
    organization: &str,
) -> anyhow::Result<Vec<infinity_orchestrator::crd::Repository>> {
    let client = kube_client().await?;
    Ok(inventory::organization_repositories(&client, namespace, organization).await?)
}

/// The compliance report of `org`, with `plan`'s run as a timeline in the HTML page.
async fn compliance_report(
    org: &str,
    namespace: &str,
    format: report::Format,
    plan: Option<&str>,
) -> anyhow::Result<String> {
    let repositories = read_repositories(namespace, org).await?;
    let mut compliance = report::build(org, &repositories, k8s_openapi::jiff::Timestamp::now());
    if let Some(plan) = plan {
        let client = kube_client().await?;
        let plan = inventory::build_plan(&client, namespace, plan).await?;
        compliance.timeline_svg = Some(report::timeline::svg(&plan, &repositories));
    }
    Ok(compliance.render(format))
}

/// What `graph` prints.
async fn graph(args: &GraphArgs) -> anyhow::Result<String> {
    let repositories = read_repositories(&namespace_or_context(args.namespace.clone()).await?, &args.org).await?;
    Ok(report::graph::Graph::of(&args.org, &repositories).render(args.format))
}

/// What `plan-timeline` prints: the plan's run, in the dependency order of its Organization's repositories.
async fn plan_timeline(args: &PlanTimelineArgs) -> anyhow::Result<String> {
    let client = kube_client().await?;
    let namespace = args.namespace.clone().unwrap_or_else(|| client.default_namespace().to_owned());
    let plan = inventory::build_plan(&client, &namespace, &args.name).await?;
    let organization = &plan.spec.organization_ref.name;
    let repositories = inventory::organization_repositories(&client, &namespace, organization).await?;
    Ok(report::timeline::svg(&plan, &repositories))
}

/// Completes on SIGINT or SIGTERM (what Kubernetes sends before it kills a pod).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received, shutting down"),
        _ = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

fn print_crds(out_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut documents = Vec::new();
    for (file, definition) in crd::all() {
        let yaml = crd::to_yaml(&definition)?;
        match &out_dir {
            Some(dir) => {
                let path = dir.join(file);
                std::fs::write(&path, &yaml).with_context(|| format!("writing {}", path.display()))?;
            }
            None => documents.push(yaml),
        }
    }
    if out_dir.is_none() {
        print!("{}", documents.join("---\n"));
    }
    Ok(())
}

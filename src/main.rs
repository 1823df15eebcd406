use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use infinity_orchestrator::controller::{self, Context, Scope};
use infinity_orchestrator::crd;
use infinity_orchestrator::telemetry::{self, LogFormat};

/// Infinity Orchestrator: run a whole GitHub organization declaratively from Kubernetes.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator: every controller, until SIGINT or SIGTERM. Uses the in-cluster service account, or
    /// KUBECONFIG / ~/.kube/config outside a cluster.
    Run {
        /// Watch only this namespace instead of all namespaces.
        #[arg(long, env = "IO_NAMESPACE")]
        namespace: Option<String>,
        /// Log line format.
        #[arg(long, value_enum, default_value_t, env = "IO_LOG_FORMAT")]
        log_format: LogFormat,
    },
    /// Print the CustomResourceDefinitions as YAML, or write one file per kind into a directory.
    Crd {
        /// Write `<kind>.yaml` files into this directory instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { namespace, log_format } => run(namespace, log_format).await,
        Command::Crd { out_dir } => print_crds(out_dir),
    }
}

async fn run(namespace: Option<String>, log_format: LogFormat) -> anyhow::Result<()> {
    telemetry::init(log_format);
    let client = kube::Client::try_default().await.context("connecting to the Kubernetes API server")?;
    let instance = std::env::var("POD_NAME").ok().or_else(|| std::env::var("HOSTNAME").ok());
    let scope = match namespace {
        Some(namespace) => Scope::Namespace(namespace),
        None => Scope::AllNamespaces,
    };
    tracing::info!(?scope, "starting controllers");
    controller::run(std::sync::Arc::new(Context::new(client, instance)), scope, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
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

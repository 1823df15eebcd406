use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use infinity_orchestrator::crd;

/// Infinity Orchestrator: run a whole GitHub organization declaratively from Kubernetes.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML, or write one file per kind into a directory.
    Crd {
        /// Write `<kind>.yaml` files into this directory instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd { out_dir } => print_crds(out_dir),
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

//! `github-sim --fixture FILE --addr 127.0.0.1:PORT`: serve a fixture until interrupted.

use std::net::SocketAddr;

use clap::Parser;
use github_sim::{Fixture, SimOptions, Simulator};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "github-sim", about = "A stateful GitHub REST API simulator (loopback only)")]
struct Args {
    /// The YAML fixture.
    #[arg(long)]
    fixture: String,
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:8900")]
    addr: SocketAddr,
    /// Where to POST webhooks.
    #[arg(long, requires = "webhook_secret")]
    webhook_url: Option<String>,
    /// HMAC secret for `X-Hub-Signature-256`.
    #[arg(long, env = "GITHUB_SIM_WEBHOOK_SECRET")]
    webhook_secret: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let fixture = Fixture::from_file(&args.fixture)?;
    let handle = Simulator::start(fixture, SimOptions { addr: args.addr }).await?;
    if let (Some(url), Some(secret)) = (args.webhook_url, args.webhook_secret) {
        handle.set_webhook(github_sim::webhook::WebhookTarget { url, secret });
    }
    println!("github-sim listening on {}", handle.base_url());
    tokio::signal::ctrl_c().await?;
    handle.stop();
    Ok(())
}

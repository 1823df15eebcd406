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
    /// Simulated seconds per real second: runs progress and finish on their own (0 stops the clock, which then
    /// moves only through `POST /_sim/clock/advance`).
    #[arg(long, default_value_t = 1)]
    speed: u64,
    /// Largest GraphQL answer, in bytes of JSON, before it is answered as GitHub's timeout (502).
    #[arg(long, default_value_t = github_sim::graphql::DEFAULT_MAX_RESPONSE_BYTES)]
    graphql_max_response_bytes: usize,
    /// Serve as GitHub Enterprise Server: REST under `/api/v3`, GraphQL at `/api/graphql`.
    #[arg(long)]
    enterprise_server: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let fixture = Fixture::from_file(&args.fixture)?;
    let options = SimOptions {
        addr: args.addr,
        graphql_max_response_bytes: args.graphql_max_response_bytes,
        enterprise_server: args.enterprise_server,
    };
    let handle = Simulator::start(fixture, options).await?;
    if let (Some(url), Some(secret)) = (args.webhook_url, args.webhook_secret) {
        handle.set_webhook(github_sim::webhook::WebhookTarget { url, secret });
    }
    println!("github-sim listening on {}", handle.base_url());
    if args.speed > 0 {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => handle.advance_clock(args.speed),
                signal = tokio::signal::ctrl_c() => { signal?; break; }
            }
        }
    } else {
        tokio::signal::ctrl_c().await?;
    }
    handle.stop();
    Ok(())
}

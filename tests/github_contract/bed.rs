//! The contract tests' bed: the real `OctocrabGitHub` against `github_sim`, with the client's clock and sleeper bound
//! to the simulator's clock, so waiting for a rate-limit reset or backing off moves simulated time, not real time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use github_sim::fixture::{AppFixture, RepoFixture};
use github_sim::{Fixture, LoggedRequest, SimHandle, SimOptions, Simulator};
use infinity_orchestrator::clock::Clock;
use infinity_orchestrator::github::transport::Sleeper;
use infinity_orchestrator::github::{Credentials, GitHubConfig, OctocrabGitHub};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// A throwaway RSA key for App auth (generated for these tests; it signs nothing real) and its public half.
pub const TEST_APP_KEY: &str = include_str!("../support/github_test_app_key.pem");
const TEST_APP_PUBLIC_KEY: &str = include_str!("../support/github_test_app_key.pub.pem");
/// The App and installation the fixture declares.
pub const APP_ID: u64 = 12345;
/// See [`APP_ID`].
pub const INSTALLATION_ID: u64 = 678;

/// The simulator's clock as the client's clock and sleeper: a sleep advances the simulator (whole seconds; the
/// remainder is carried), and every sleep is recorded.
pub struct SimTime {
    sim: Arc<SimHandle>,
    carried: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
}

impl SimTime {
    /// Every wait asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().expect("sleeps").clone()
    }
}

impl Clock for SimTime {
    fn now(&self) -> Timestamp {
        let carried = SignedDuration::try_from(*self.carried.lock().expect("carried")).unwrap_or_default();
        let seconds = Timestamp::from_second(self.sim.now()).expect("sim time");
        seconds.checked_add(carried).unwrap_or(seconds)
    }
}

impl Sleeper for SimTime {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleeps.lock().expect("sleeps").push(duration);
        let mut carried = self.carried.lock().expect("carried");
        let total = *carried + duration;
        self.sim.advance_clock(total.as_secs());
        *carried = total - Duration::from_secs(total.as_secs());
        Box::pin(async {})
    }
}

/// A simulator and the time the client sees.
pub struct Bed {
    /// The simulator.
    pub sim: Arc<SimHandle>,
    /// Its clock, as the client's clock and sleeper.
    pub time: Arc<SimTime>,
}

/// A simulator serving `fixture` plus the test App (whose public key verifies the client's JWTs).
pub async fn bed_with(mut fixture: Fixture) -> Bed {
    fixture.apps.push(AppFixture {
        id: APP_ID,
        public_key_pem: Some(TEST_APP_PUBLIC_KEY.into()),
        installations: vec![INSTALLATION_ID],
        token_lifetime_secs: None,
        permissions: Default::default(),
    });
    let sim = Arc::new(Simulator::start(fixture, SimOptions::default()).await.expect("the simulator starts"));
    let time =
        Arc::new(SimTime { sim: sim.clone(), carried: Mutex::new(Duration::ZERO), sleeps: Mutex::new(Vec::new()) });
    Bed { sim, time }
}

/// An org `acme` of `count` generated repositories.
pub async fn bed(count: usize) -> Bed {
    bed_with(Fixture::generated_org("acme", count)).await
}

impl Bed {
    /// A client with the given credentials and tuning.
    pub fn client_with(&self, credentials: Credentials, tune: impl FnOnce(&mut GitHubConfig)) -> OctocrabGitHub {
        let mut config = GitHubConfig::new(self.sim.base_url(), credentials);
        tune(&mut config);
        OctocrabGitHub::with_time(config, self.time.clone(), self.time.clone()).expect("client")
    }

    /// A client on the plain token `test-token`.
    pub fn client(&self) -> OctocrabGitHub {
        self.client_with(Credentials::Token("test-token".into()), |_| {})
    }

    /// A client authenticating as the test App's installation.
    pub fn app_client(&self) -> OctocrabGitHub {
        let credentials = Credentials::App {
            app_id: APP_ID,
            installation_id: INSTALLATION_ID,
            private_key_pem: TEST_APP_KEY.to_string(),
        };
        self.client_with(credentials, |_| {})
    }

    /// The request log.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.sim.requests()
    }

    /// Adds a repository from YAML.
    pub fn add_repo_yaml(&self, yaml: &str) {
        let repo: RepoFixture = serde_yaml::from_str(yaml).expect("repository YAML");
        self.sim.add_repo("acme", repo);
    }

    /// Fails unless every request the client sent, and every answer GitHub's model gave, conforms to GitHub's
    /// OpenAPI description. Every test ends with it, so the suite checks all the client's traffic.
    pub fn assert_conformant(&self) {
        self.sim.assert_conformant();
    }
}

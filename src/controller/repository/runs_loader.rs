//! Default-branch runs of many repositories of one Organization for the price of one query, and when a
//! repository's runs are read again at all ([`runs_due`]).
//!
//! A Repository reconcile that needs its runs, and finds no result a batch took for it, reads them in one GraphQL
//! query ([`GitHub::default_branch_runs_batch`]) with, up to [`MAX_RUNS_READS_PER_QUERY`], the repositories of its
//! Organization whose reconciles wait for runs at that moment (a discovery pass that moved many heads, a restart),
//! then those the controller says are due a read within [`LOOKAHEAD`]; the other reconciles of that Organization
//! wait for the query, then find their result. The repositories read ahead are woken, so that their reconciles take
//! their results soon. A result is held until its repository's reconcile takes it, or for [`RESULT_LIFETIME`]: only
//! what is not yet taken stays in memory. A result taken for what the repository no longer is (a newer head, a
//! newer wake request: another [`RunsBasis`]) is dropped and read again.
//!
//! When GitHub fails the query for another reason than its rate limit, the batch's repositories are read by REST,
//! one request each, as without this module.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;

use super::observe;
use crate::controller::error::Error;
use crate::controller::memo::Memo;
use crate::crd::Repository;
use crate::github::graphql::MAX_RUNS_READS_PER_QUERY;
use crate::github::{self, GitHub, RepositoryRuns, RunsRead};

/// How long a result a batch took for another repository waits for that repository's reconcile.
pub const RESULT_LIFETIME: Duration = Duration::from_secs(60);

/// A batch takes the repositories whose read is due within this time: their reconciles come before their results
/// expire.
pub const LOOKAHEAD: Duration = Duration::from_secs(30);

/// How long a batch waits at most for the reconciles of its Organization to gather before it is read, when fewer
/// than a query's worth wait: reconciles come one after another as discovery describes repositories, and a query
/// costs at least one point whatever it holds (measured at 10,000 repositories: 3 to 4 repositories a query without
/// it). A batch that fills is read at once.
pub const GATHER: Duration = Duration::from_millis(250);

/// What a read of a repository's runs is for: another basis since the last read is a reason to read again, and a
/// held result of another basis is not used.
#[derive(Debug, Hash)]
pub struct RunsBasis<'a> {
    /// The default branch.
    pub branch: &'a str,
    /// Its head commit, as discovery last saw it.
    pub head_sha: Option<&'a str>,
    /// The workflow discovery chose as the build workflow.
    pub build_workflow: Option<&'a str>,
    /// How many of the newest runs are read.
    pub runs: usize,
    /// The `requested-at` annotation: a webhook delivery or a person asking for a read.
    pub requested_at: Option<&'a str>,
}

impl RunsBasis<'_> {
    /// A digest to remember instead of the strings (many thousand repositories are remembered).
    pub fn digest(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }
}

/// What the last read of a repository's runs in this process saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunsSeen {
    /// [`RunsBasis::digest`] of what it was read for.
    pub basis: u64,
    /// When.
    pub at: Timestamp,
    /// Whether the newest build or test run was queued or running.
    pub in_progress: bool,
    /// Whether Dependabot alerts were on, when the read said (GraphQL).
    pub vulnerability_alerts: Option<bool>,
}

/// Whether a repository's runs are read (rather than its health kept as its status has it): on the first read in
/// this process (`last` is `None`) or while its status has no health, when the [`RunsBasis`] changed (a push, a
/// new default branch or build workflow, a wake request), while the last read saw a run queued or in progress,
/// and once the last read is `full_read_interval` old, for runs that nothing announces (a scheduled or manual run
/// on an unchanged head, without webhooks).
pub fn runs_due(
    last: Option<&RunsSeen>,
    basis: u64,
    health_known: bool,
    now: Timestamp,
    full_read_interval: Duration,
) -> bool {
    let Some(last) = last.filter(|_| health_known) else { return true };
    last.basis != basis || last.in_progress || now.duration_since(last.at).unsigned_abs() >= full_read_interval
}

/// One repository whose runs a batch reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunsAsk {
    /// The Repository object.
    pub object: ObjectRef<Repository>,
    /// The repository on GitHub and how many runs.
    pub read: RunsRead,
    /// Its default branch, for a read by REST.
    pub branch: String,
    /// [`RunsBasis::digest`] of what the read is for.
    pub basis: u64,
}

/// A repository's newest default-branch runs, newest first, and whether its Dependabot alerts are on; `None` when it
/// does not exist.
pub type Runs = Option<RepositoryRuns>;

/// The batches of every Organization.
pub struct RunsLoader {
    /// By `namespace/name/login` of the Organization.
    by_organization: Memo<String, Arc<OrganizationRuns>>,
    /// Wakes the reconciles of repositories read ahead.
    wake: UnboundedSender<ObjectRef<Repository>>,
    /// [`GATHER`], or none in tests.
    gather: Duration,
}

/// One Organization's reconciles waiting for runs, and the results they have not taken yet.
#[derive(Default)]
struct OrganizationRuns {
    waiting: Memo<ObjectRef<Repository>, RunsAsk>,
    /// Told when a query's worth wait, to end a batch's gathering.
    filled: tokio::sync::Notify,
    /// Locked while a batch is read.
    held: tokio::sync::Mutex<HashMap<ObjectRef<Repository>, Held>>,
}

/// A result held for a repository.
struct Held {
    at: Timestamp,
    basis: u64,
    runs: Runs,
}

/// A reconcile's place among those waiting, given up when it returns (or is dropped).
struct Waiting<'a> {
    organization: &'a OrganizationRuns,
    object: ObjectRef<Repository>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.organization.waiting.remove(&self.object);
    }
}

impl RunsLoader {
    /// A loader that wakes the repositories it read ahead through `wake`, and lets a batch `gather` before it is
    /// read.
    pub fn new(wake: UnboundedSender<ObjectRef<Repository>>, gather: Duration) -> Self {
        RunsLoader { by_organization: Memo::default(), wake, gather }
    }

    /// The runs `asking` wants: the result a batch took for it on the same basis less than [`RESULT_LIFETIME`]
    /// ago, else read now by `read` in one batch with the other repositories waiting for theirs, then those `due`
    /// lists (repositories of the same Organization due a read; asked only when the batch has room), while the other
    /// callers for `organization` wait.
    pub async fn runs<Due, Read, Reading>(
        &self,
        organization: &str,
        asking: RunsAsk,
        due: impl FnOnce() -> Due,
        now: Timestamp,
        read: Read,
    ) -> Result<Runs, Error>
    where
        Due: IntoIterator<Item = RunsAsk>,
        Read: FnOnce(Vec<RunsAsk>) -> Reading,
        Reading: Future<Output = Result<Vec<Runs>, Error>>,
    {
        let slot = self.by_organization.lock().entry(organization.to_owned()).or_default().clone();
        let object = asking.object.clone();
        let now_waiting = {
            let mut waiting = slot.waiting.lock();
            waiting.insert(object.clone(), asking.clone());
            waiting.len()
        };
        if now_waiting >= MAX_RUNS_READS_PER_QUERY {
            slot.filled.notify_waiters();
        }
        let _waiting = Waiting { organization: &slot, object: object.clone() };
        let mut held = slot.held.lock().await;
        held.retain(|_, result| now.duration_since(result.at).unsigned_abs() < RESULT_LIFETIME);
        if let Some(result) = held.remove(&object).filter(|result| result.basis == asking.basis) {
            return Ok(result.runs);
        }
        // Registered before the count is read, so that a batch filling in between is not missed.
        let filled = slot.filled.notified();
        tokio::pin!(filled);
        filled.as_mut().enable();
        if slot.waiting.lock().len() < MAX_RUNS_READS_PER_QUERY && !self.gather.is_zero() {
            // The others arriving meanwhile wait behind `held`, and join this batch.
            let _ = tokio::time::timeout(self.gather, filled).await;
        }
        let mut in_batch = HashSet::from([object]);
        let mut new = |ask: &RunsAsk| !held.contains_key(&ask.object) && in_batch.insert(ask.object.clone());
        let room = MAX_RUNS_READS_PER_QUERY - 1;
        let waiting: Vec<RunsAsk> = slot.waiting.lock().values().filter(|ask| new(ask)).take(room).cloned().collect();
        let room = room - waiting.len();
        let ahead: Vec<RunsAsk> =
            if room == 0 { Vec::new() } else { due().into_iter().filter(|ask| new(ask)).take(room).collect() };
        let woken: Vec<ObjectRef<Repository>> = ahead.iter().map(|ask| ask.object.clone()).collect();
        let batch: Vec<RunsAsk> = std::iter::once(asking).chain(waiting).chain(ahead).collect();
        let bases: Vec<(ObjectRef<Repository>, u64)> =
            batch.iter().map(|ask| (ask.object.clone(), ask.basis)).collect();
        let mut results = read(batch).await?.into_iter();
        let own = results.next().flatten();
        for ((object, basis), runs) in bases.into_iter().skip(1).zip(results) {
            held.insert(object, Held { at: now, basis, runs });
        }
        for object in woken {
            // Fails only when the controller stopped.
            let _ = self.wake.unbounded_send(object);
        }
        Ok(own)
    }
}

/// Reads `batch` by GraphQL; when GitHub fails the query for another reason than its rate limit, each repository
/// by REST.
pub async fn read_batch(github: &dyn GitHub, batch: Vec<RunsAsk>) -> Result<Vec<Runs>, Error> {
    let reads: Vec<RunsRead> = batch.iter().map(|ask| ask.read.clone()).collect();
    let error = match github.default_branch_runs_batch(&reads).await {
        Ok(runs) => return Ok(runs),
        Err(error @ github::Error::RateLimited { .. }) => return Err(error.into()),
        Err(error) => error,
    };
    tracing::warn!(repositories = batch.len(), %error, "reading runs by GraphQL failed; reading them by REST instead");
    let mut runs = Vec::with_capacity(batch.len());
    for ask in &batch {
        runs.push(match observe::recent_runs(github, &ask.read.repo, &ask.branch, ask.read.runs).await {
            Ok(found) => Some(RepositoryRuns { runs: found, vulnerability_alerts: None }),
            Err(github::Error::NotFound { .. }) => None,
            Err(error) => return Err(error.into()),
        });
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::channel::mpsc::{self, UnboundedReceiver};

    use super::*;
    use crate::github::{RepoRef, WorkflowRun};

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_000_000 + secs).unwrap()
    }

    fn ask(name: &str, basis: u64) -> RunsAsk {
        let read = RunsRead { repo: RepoRef::new("acme", name), runs: 30 };
        RunsAsk { object: ObjectRef::new(name).within("ns"), read, branch: "main".into(), basis }
    }

    fn none() -> Vec<RunsAsk> {
        Vec::new()
    }

    /// One run whose id tells the repository (the length of its name) and the basis it was read for.
    fn runs_of(ask: &RunsAsk) -> Runs {
        let id = u64::try_from(ask.read.repo.name.len()).unwrap() * 1000 + ask.basis;
        let runs = vec![WorkflowRun {
            id,
            workflow_id: 1,
            name: Some("CI".into()),
            display_title: String::new(),
            head_branch: Some(ask.branch.clone()),
            head_sha: "abc".into(),
            event: "push".into(),
            status: Some("completed".into()),
            conclusion: Some("success".into()),
            run_attempt: None,
            created_at: at(0),
            updated_at: None,
            html_url: None,
            path: Some(".github/workflows/ci.yml".into()),
        }];
        Some(RepositoryRuns { runs, vulnerability_alerts: Some(true) })
    }

    fn id_of(runs: &Runs) -> u64 {
        runs.as_ref().and_then(|read| read.runs.first()).map(|run| run.id).unwrap()
    }

    fn loader() -> (RunsLoader, UnboundedReceiver<ObjectRef<Repository>>) {
        let (wake, woken) = mpsc::unbounded();
        (RunsLoader::new(wake, Duration::ZERO), woken)
    }

    fn names_woken(woken: &mut UnboundedReceiver<ObjectRef<Repository>>) -> Vec<String> {
        std::iter::from_fn(|| woken.try_recv().ok()).map(|object| object.name).collect()
    }

    /// A reader that counts its batches and records their sizes.
    #[derive(Default)]
    struct Reader {
        batches: AtomicUsize,
        sizes: std::sync::Mutex<Vec<usize>>,
    }

    impl Reader {
        async fn read(&self, batch: Vec<RunsAsk>) -> Result<Vec<Runs>, Error> {
            self.batches.fetch_add(1, Ordering::SeqCst);
            self.sizes.lock().unwrap().push(batch.len());
            tokio::task::yield_now().await;
            Ok(batch.iter().map(runs_of).collect())
        }
    }

    #[test]
    fn runs_are_read_again_only_when_something_may_have_changed() {
        let hour = Duration::from_secs(3600);
        let seen = RunsSeen { basis: 1, at: at(0), in_progress: false, vulnerability_alerts: None };
        assert!(runs_due(None, 1, true, at(0), hour), "never read in this process");
        assert!(runs_due(Some(&seen), 1, false, at(0), hour), "the status has no health");
        assert!(!runs_due(Some(&seen), 1, true, at(3599), hour), "nothing changed");
        assert!(runs_due(Some(&seen), 2, true, at(1), hour), "a push, or a wake request");
        assert!(runs_due(Some(&seen), 1, true, at(3600), hour), "the full read interval passed");
        let running = RunsSeen { in_progress: true, ..seen };
        assert!(runs_due(Some(&running), 1, true, at(1), hour), "a run was in progress");
    }

    #[test]
    fn a_basis_is_what_the_read_is_for() {
        let basis = |head, requested_at| {
            RunsBasis { branch: "main", head_sha: Some(head), build_workflow: None, runs: 30, requested_at }.digest()
        };
        assert_eq!(basis("a", None), basis("a", None));
        assert_ne!(basis("a", None), basis("b", None), "a push");
        assert_ne!(basis("a", None), basis("a", Some("t1")), "a wake request");
    }

    #[tokio::test]
    async fn one_batch_reads_the_repositories_due_wakes_them_and_each_takes_its_result_once() {
        let (loader, mut woken) = loader();
        let reader = Reader::default();
        let due = || vec![ask("api", 1), ask("web", 1), ask("docs", 1), ask("web", 1)];
        let own = loader.runs("ns/acme/acme", ask("api", 1), due, at(0), |b| reader.read(b)).await.unwrap();
        assert_eq!(id_of(&own), 3001);
        assert_eq!(*reader.sizes.lock().unwrap(), [3], "the asking repository, and the two others due once each");
        assert_eq!(names_woken(&mut woken), ["web", "docs"]);
        let never = || -> Vec<RunsAsk> { panic!("no batch is read while the result is held") };
        let web = loader.runs("ns/acme/acme", ask("web", 1), never, at(30), |b| reader.read(b)).await.unwrap();
        assert_eq!(id_of(&web), 3001);
        let docs = loader.runs("ns/acme/acme", ask("docs", 1), none, at(59), |b| reader.read(b)).await.unwrap();
        assert_eq!(id_of(&docs), 4001);
        assert_eq!(reader.batches.load(Ordering::SeqCst), 1);
        let again = loader.runs("ns/acme/acme", ask("web", 1), none, at(59), |b| reader.read(b)).await.unwrap();
        assert_eq!(id_of(&again), 3001);
        assert_eq!(reader.batches.load(Ordering::SeqCst), 2, "a result is taken once");
        assert!(names_woken(&mut woken).is_empty(), "only repositories read ahead are woken");
    }

    #[tokio::test]
    async fn a_held_result_of_another_basis_or_too_old_is_read_again() {
        let (loader, _woken) = loader();
        let reader = Reader::default();
        let due = || vec![ask("web", 1), ask("docs", 1)];
        loader.runs("org", ask("api", 1), due, at(0), |b| reader.read(b)).await.unwrap();
        let pushed = loader.runs("org", ask("web", 2), none, at(1), |b| reader.read(b)).await.unwrap();
        assert_eq!(id_of(&pushed), 3002, "read again for the new head");
        let late = loader.runs("org", ask("docs", 1), none, at(60), |b| reader.read(b)).await.unwrap();
        assert_eq!(id_of(&late), 4001);
        assert_eq!(reader.batches.load(Ordering::SeqCst), 3, "the held result had expired");
        let slot = loader.by_organization.get("org").unwrap();
        assert!(slot.held.lock().await.is_empty() && slot.waiting.lock().is_empty(), "nothing left in memory");
    }

    #[tokio::test]
    async fn a_batch_is_at_most_one_query_of_repositories_and_other_organizations_read_their_own() {
        let (loader, _woken) = loader();
        let reader = Reader::default();
        let many = || (0..200).map(|i| ask(&format!("repo-{i}"), 1)).collect::<Vec<_>>();
        loader.runs("one", ask("api", 1), many, at(0), |b| reader.read(b)).await.unwrap();
        loader.runs("two", ask("repo-1", 1), none, at(0), |b| reader.read(b)).await.unwrap();
        assert_eq!(*reader.sizes.lock().unwrap(), [MAX_RUNS_READS_PER_QUERY, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_gathers_until_a_query_is_full_or_the_gather_time_is_over() {
        let gather = Duration::from_secs(3600);
        for count in [MAX_RUNS_READS_PER_QUERY, 3] {
            let (wake, _woken) = mpsc::unbounded();
            let (loader, reader) = (Arc::new(RunsLoader::new(wake, gather)), Arc::new(Reader::default()));
            let started = tokio::time::Instant::now();
            let asking: Vec<_> = (0..count)
                .map(|i| {
                    let (loader, reader) = (loader.clone(), reader.clone());
                    let name = format!("repo-{i}");
                    tokio::spawn(
                        async move { loader.runs("org", ask(&name, 1), none, at(0), |b| reader.read(b)).await },
                    )
                })
                .collect();
            for task in asking {
                task.await.unwrap().unwrap();
            }
            // The clock is paused: it moves only when every task waits on it.
            let waited = started.elapsed();
            assert_eq!(*reader.sizes.lock().unwrap(), [count], "one query for all {count}");
            if count == MAX_RUNS_READS_PER_QUERY {
                assert!(waited < gather, "a full batch is read at once, not after {waited:?}");
            } else {
                assert!(waited >= gather, "a batch with room waits for more: {waited:?}");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reconciles_waiting_while_a_batch_is_in_flight_are_read_together_without_being_woken() {
        let (loader, mut woken) = loader();
        let (loader, reader) = (Arc::new(loader), Arc::new(Reader::default()));
        let slot = loader.by_organization.lock().entry("org".to_owned()).or_default().clone();
        // A batch in flight: the organization's lock is taken.
        let in_flight = slot.held.lock().await;
        let names = ["api", "web", "docs", "cli"];
        let asking = names.map(|name| {
            let (loader, reader) = (loader.clone(), reader.clone());
            tokio::spawn(async move { loader.runs("org", ask(name, 1), none, at(0), |b| reader.read(b)).await })
        });
        while slot.waiting.lock().len() < names.len() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(in_flight);
        for (name, task) in names.iter().zip(asking) {
            let runs = task.await.unwrap().unwrap();
            assert_eq!(id_of(&runs), u64::try_from(name.len()).unwrap() * 1000 + 1);
        }
        assert_eq!(*reader.sizes.lock().unwrap(), [names.len()], "one query for the four");
        assert!(names_woken(&mut woken).is_empty(), "they were waiting already");
        assert!(slot.waiting.lock().is_empty());
    }
}

//! Stopping a run's attempts in flight (the plan is suspended, deleted or superseded), decided without I/O from the
//! runs that tracking read: which runs to cancel, and which attempts cannot be settled yet.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::entries::{dispatch_lost, RunObservation};
use super::in_flight;
use crate::crd::build_plan::RepositoryBuild;

/// A run still going on GitHub, to cancel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunToCancel {
    /// The repository it builds.
    pub repository: String,
    /// Its id.
    pub run_id: i64,
}

/// What stopping the attempts in flight takes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stop {
    /// The runs still going: once they are cancelled, their attempts are settled.
    pub cancel: Vec<RunToCancel>,
    /// Attempts whose run GitHub does not list while their dispatch is too young to tell whether it reached GitHub:
    /// the caller looks again later. Every other attempt in flight is settled once `cancel` is sent: its run ended,
    /// or its dispatch never happened.
    pub unsettled: Vec<String>,
}

/// How to stop the attempts in flight among `entries`, given `runs`: by repository, the run of its attempt as
/// tracking read it, `None` when GitHub does not list it. An entry tracking did not read (its repository is no
/// longer selected) is left alone.
pub fn stop_in_flight(
    entries: &[RepositoryBuild],
    runs: &BTreeMap<String, Option<RunObservation>>,
    grace: SignedDuration,
    now: Timestamp,
) -> Stop {
    let mut stop = Stop::default();
    for entry in entries.iter().filter(|e| in_flight(e.state)) {
        match runs.get(&entry.name) {
            None => {}
            Some(Some(run)) if run.status.as_deref() != Some("completed") => {
                stop.cancel.push(RunToCancel { repository: entry.name.clone(), run_id: run.id });
            }
            Some(Some(_)) => {}
            Some(None) if dispatch_lost(entry, grace, now) => {}
            Some(None) => stop.unsettled.push(entry.name.clone()),
        }
    }
    stop
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::build_plan::RepositoryBuildState as S;
    use crate::plan::schedule::entries::{dispatching, observe_run, pending};

    const GRACE: SignedDuration = SignedDuration::from_secs(60);

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn run(id: i64, status: &str, conclusion: Option<&str>) -> RunObservation {
        RunObservation {
            id,
            url: None,
            head_sha: "abc".into(),
            status: Some(status.into()),
            conclusion: conclusion.map(String::from),
            created_at: t(1),
            updated_at: None,
        }
    }

    /// An intent recorded at `at`.
    fn intent(name: &str, at: i64) -> RepositoryBuild {
        dispatching(&pending(name), 1, &format!("io-{name}-1"), t(at))
    }

    fn read(runs: &[(&str, Option<RunObservation>)]) -> BTreeMap<String, Option<RunObservation>> {
        runs.iter().map(|(name, run)| (name.to_string(), run.clone())).collect()
    }

    fn cancel(repository: &str, run_id: i64) -> RunToCancel {
        RunToCancel { repository: repository.into(), run_id }
    }

    #[test]
    fn runs_still_going_are_cancelled_and_settle_their_attempts() {
        let running = observe_run(&intent("core", 0), &run(7, "in_progress", None), t(5));
        let entries = [intent("api", 0), running];
        let runs = read(&[("api", Some(run(8, "queued", None))), ("core", Some(run(7, "in_progress", None)))]);
        let stop = stop_in_flight(&entries, &runs, GRACE, t(10));
        assert_eq!(stop.cancel, [cancel("api", 8), cancel("core", 7)]);
        assert!(stop.unsettled.is_empty());
    }

    #[test]
    fn a_run_that_already_finished_is_left_alone_and_settled() {
        let entries = [intent("core", 0), intent("api", 0)];
        let runs = read(&[
            ("core", Some(run(7, "completed", Some("success")))),
            // A run deleted on GitHub reads as completed: nothing runs any more.
            ("api", Some(run(8, "completed", Some("deleted")))),
        ]);
        assert_eq!(stop_in_flight(&entries, &runs, GRACE, t(10)), Stop::default());
    }

    #[test]
    fn a_run_not_found_settles_only_once_its_dispatch_counts_as_lost() {
        let entries = [intent("core", 0)];
        let runs = read(&[("core", None)]);
        let young = stop_in_flight(&entries, &runs, GRACE, t(59));
        assert_eq!((young.cancel, young.unsettled), (vec![], vec!["core".to_owned()]));
        assert_eq!(stop_in_flight(&entries, &runs, GRACE, t(60)), Stop::default(), "never dispatched");
    }

    #[test]
    fn an_attempt_not_read_or_not_in_flight_is_left_alone() {
        let mut done = intent("done", 0);
        done.state = S::Succeeded;
        let mut waiting = pending("waiting");
        waiting.attempts = 1;
        let entries = [intent("unselected", 0), done, waiting];
        // Runs read for entries not in flight count for nothing: only an attempt in flight is stopped.
        let runs = read(&[("done", Some(run(7, "in_progress", None))), ("waiting", None)]);
        assert_eq!(stop_in_flight(&entries, &runs, GRACE, t(0)), Stop::default());
    }

    #[test]
    fn cancels_and_waits_at_once_when_the_attempts_differ() {
        let entries = [intent("api", 0), intent("core", 30), intent("web", 0), intent("db", 0)];
        let runs = read(&[
            ("api", Some(run(8, "in_progress", None))),
            ("core", None),
            ("web", None),
            ("db", Some(run(9, "completed", Some("failure")))),
        ]);
        let stop = stop_in_flight(&entries, &runs, GRACE, t(70));
        assert_eq!(stop.cancel, [cancel("api", 8)]);
        assert_eq!(stop.unsettled, ["core"], "web's dispatch is past the grace: it never happened");
    }
}

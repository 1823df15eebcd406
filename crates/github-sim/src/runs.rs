//! The workflow-run state machine and `run-name` rendering.

use std::collections::BTreeMap;

/// Seconds a run stays `queued` before it starts.
pub const QUEUE_SECS: i64 = 5;

/// How a run ends once its duration has elapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// `success`
    Success,
    /// `failure`
    Failure,
    /// `cancelled`
    Cancelled,
    /// `timed_out`
    TimedOut,
}

impl Conclusion {
    /// GitHub's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::TimedOut => "timed_out",
        }
    }
}

/// Status and conclusion of a run at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunPhase {
    /// `queued`, `in_progress` or `completed`.
    pub status: &'static str,
    /// Set once completed.
    pub conclusion: Option<Conclusion>,
    /// Epoch seconds of the last change.
    pub updated_at: i64,
}

/// Where a run created at `created_at` lasting `duration_secs` is at `now`; `cancelled_at` ends it early.
pub fn phase_at(
    created_at: i64,
    duration_secs: i64,
    outcome: Conclusion,
    cancelled_at: Option<i64>,
    now: i64,
) -> RunPhase {
    let started = created_at + QUEUE_SECS;
    let finished = started + duration_secs;
    if let Some(cancelled) = cancelled_at {
        if cancelled < finished && now >= cancelled {
            return RunPhase { status: "completed", conclusion: Some(Conclusion::Cancelled), updated_at: cancelled };
        }
    }
    if now < started {
        RunPhase { status: "queued", conclusion: None, updated_at: created_at }
    } else if now < finished {
        RunPhase { status: "in_progress", conclusion: None, updated_at: started }
    } else {
        RunPhase { status: "completed", conclusion: Some(outcome), updated_at: finished }
    }
}

/// Substitutes `${{ inputs.NAME }}` in a `run-name` template; unknown inputs render empty, as on GitHub.
pub fn render_run_name(template: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = rest[start + 3..start + len].trim();
        if let Some(name) = expr.strip_prefix("inputs.") {
            out.push_str(inputs.get(name.trim()).map(String::as_str).unwrap_or(""));
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_queued_in_progress_completed() {
        let at = |now| phase_at(100, 60, Conclusion::Failure, None, now);
        assert_eq!(at(100).status, "queued");
        assert_eq!(at(105).status, "in_progress");
        assert_eq!(at(164).conclusion, None);
        let done = at(165);
        assert_eq!((done.status, done.conclusion, done.updated_at), ("completed", Some(Conclusion::Failure), 165));
    }

    #[test]
    fn cancel_before_finish_wins() {
        let p = phase_at(0, 60, Conclusion::Success, Some(10), 20);
        assert_eq!(p.conclusion, Some(Conclusion::Cancelled));
        let late = phase_at(0, 60, Conclusion::Success, Some(100), 200);
        assert_eq!(late.conclusion, Some(Conclusion::Success));
    }

    #[test]
    fn renders_inputs() {
        let inputs = BTreeMap::from([("correlation_id".to_string(), "abc".to_string())]);
        assert_eq!(render_run_name("build ${{ inputs.correlation_id }}", &inputs), "build abc");
        assert_eq!(render_run_name("x ${{inputs.missing}} y", &inputs), "x  y");
        assert_eq!(render_run_name("plain", &inputs), "plain");
    }
}

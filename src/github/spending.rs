//! What a credential's budgets are spent on, and what that asks of background work. A ledger per credential counts
//! the points spent per [`Purpose`] over the last hour, separately for each budget GitHub keeps (REST `core`,
//! `graphql`, …); it projects what background work (resyncs, health reads) would cost an hour at the configured
//! intervals, and when that exceeds the configured share of the budget, background intervals are stretched. A
//! gate keeps the rest of each window for priority work (webhook-driven work, dispatches, healing). Pure: the
//! transport records and asks, controllers read the [`BudgetOutlook`].

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::rate_limit::{RateBudget, RateResource};

/// The window points are counted over: GitHub's budgets are hourly.
const WINDOW: Duration = Duration::from_secs(3600);
/// The shortest history a projection extrapolates from, so that the first minutes' burst is not taken for an
/// hourly rate sixty times over.
const MIN_SPAN: Duration = Duration::from_secs(10 * 60);
/// The most background intervals are stretched, so that a resync every 6 hours still comes every 3 days.
pub const MAX_STRETCH: u32 = 12;
/// The share of a budget background work may spend when the configuration says nothing.
pub const DEFAULT_BACKGROUND_SHARE_PERCENT: u8 = 50;

tokio::task_local! {
    static CHARGE: Charge;
}

/// What the current task's requests are charged to: a purpose, and for background work the stretch its interval
/// was scheduled with (a pass run at a third of its configured rate would cost three times as much an hour
/// unstretched, which is what the projection needs to know).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    /// Why the requests are sent.
    pub purpose: Purpose,
    /// The factor the work's interval was stretched by (1 for work that is not on an interval).
    pub stretch: u32,
}

impl Charge {
    /// What the current task runs `scope`d under; a [`Purpose::Resync`] at its configured interval when none.
    pub fn current() -> Charge {
        CHARGE.try_with(|charge| *charge).unwrap_or(Charge { purpose: Purpose::Resync, stretch: 1 })
    }

    /// Runs `work` with every GitHub request it sends charged to this.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CHARGE.scope(Charge { stretch: self.stretch.max(1), ..self }, work).await
    }
}

/// Why a request is sent, which decides who goes first when the budget runs short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Work a webhook delivery asked for.
    Webhook,
    /// Dispatching and following a BuildPlan's runs.
    Dispatch,
    /// A HealingPolicy's actions.
    Healing,
    /// Discovery passes of an Organization on its interval; also any request no controller labelled.
    Resync,
    /// Repository health and security reads on their interval.
    Health,
}

impl Purpose {
    /// Every purpose, priority work first.
    pub const ALL: [Purpose; 5] =
        [Purpose::Webhook, Purpose::Dispatch, Purpose::Healing, Purpose::Resync, Purpose::Health];

    /// The metric label and status key.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Webhook => "webhook",
            Purpose::Dispatch => "dispatch",
            Purpose::Healing => "healing",
            Purpose::Resync => "resync",
            Purpose::Health => "health",
        }
    }

    /// Whether the work runs on an interval that may be stretched, and yields the budget to the rest.
    pub fn is_background(self) -> bool {
        matches!(self, Purpose::Resync | Purpose::Health)
    }

    /// Runs `work` with every GitHub request it sends charged to this purpose, at its configured interval.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        Charge { purpose: self, stretch: 1 }.scope(work).await
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The name of a budget in metrics and status, as GitHub's `x-ratelimit-resource` spells it.
pub fn resource_name(resource: RateResource) -> &'static str {
    match resource {
        RateResource::Core => "core",
        RateResource::GraphQL => "graphql",
    }
}

/// What a response tells the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// GitHub does not count it: a 304 to a conditional request, or `GET /rate_limit`.
    pub free: bool,
    /// The budget the response reported.
    pub budget: Option<RateBudget>,
    /// Its `x-ratelimit-used`.
    pub used: Option<u64>,
}

/// What one of a credential's budgets is being spent on, and what that asks of background work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetOutlook {
    /// Which budget.
    pub resource: RateResource,
    /// The budget as GitHub last reported it.
    pub budget: RateBudget,
    /// Points spent in the last hour per purpose (every purpose, zeros included).
    pub used_last_hour: BTreeMap<Purpose, u64>,
    /// What background work would spend an hour at its configured intervals, from its recent rate.
    pub projected_per_hour: u64,
    /// The share of the budget background work may spend, in percent.
    pub share_percent: u8,
    /// The factor background intervals are multiplied by: 1 while the projection fits the share.
    pub stretch: u32,
}

impl BudgetOutlook {
    /// The points an hour background work may spend: the share of the limit.
    pub fn allowed_per_hour(&self) -> u64 {
        allowed(self.budget.limit, self.share_percent)
    }
}

/// The largest stretch of a credential's budgets: background work waits for the most constrained one.
pub fn stretch_of(outlooks: &[BudgetOutlook]) -> u32 {
    outlooks.iter().map(|outlook| outlook.stretch).max().unwrap_or(1).max(1)
}

/// Points spent during one minute.
#[derive(Clone, Debug)]
struct Minute {
    /// Minutes since the epoch.
    index: i64,
    points: [u64; 5],
    /// Background points times the stretch their work was scheduled with: what they would have been at the
    /// configured intervals. Projecting from this, not from what was spent, keeps a stretch from undoing itself.
    at_configured_intervals: u64,
}

/// One budget's record.
#[derive(Clone, Debug)]
struct ResourceLedger {
    resource: RateResource,
    /// When the first answer was recorded.
    since: Timestamp,
    budget: Option<RateBudget>,
    minutes: VecDeque<Minute>,
}

/// The points a credential spent, per budget and purpose, over the last hour.
#[derive(Clone, Debug)]
pub struct SpendingLedger {
    share_percent: u8,
    /// One per budget answered for, in the order first seen.
    resources: Vec<ResourceLedger>,
}

impl SpendingLedger {
    /// A ledger letting background work spend `share_percent` (1 to 100) of each budget.
    pub fn new(share_percent: u8) -> Self {
        SpendingLedger { share_percent: share_percent.clamp(1, 100), resources: Vec::new() }
    }

    /// Records an answer to a request sent for `charge`; returns the points it cost. A REST request costs a point
    /// unless it was free; a GraphQL query costs what `x-ratelimit-used` grew by within the same window (a new
    /// window: all of it), or a point when the header is missing.
    pub fn record(&mut self, resource: RateResource, charge: Charge, now: Timestamp, answer: Answer) -> u64 {
        let position = match self.resources.iter().position(|ledger| ledger.resource == resource) {
            Some(position) => position,
            None => {
                self.resources.push(ResourceLedger { resource, since: now, budget: None, minutes: VecDeque::new() });
                self.resources.len() - 1
            }
        };
        let ledger = &mut self.resources[position];
        let points = match (resource, answer.used, answer.budget, ledger.budget) {
            (_, _, _, _) if answer.free => 0,
            (RateResource::GraphQL, Some(used), Some(budget), Some(before)) if before.reset == budget.reset => {
                used.saturating_sub(before.limit.saturating_sub(before.remaining))
            }
            (RateResource::GraphQL, Some(used), Some(_), _) => used,
            _ => 1,
        };
        if let Some(budget) = answer.budget {
            ledger.budget = Some(budget);
        }
        let index = now.as_second().div_euclid(60);
        if ledger.minutes.back().is_none_or(|minute| minute.index != index) {
            ledger.minutes.push_back(Minute { index, points: [0; 5], at_configured_intervals: 0 });
        }
        let oldest = index - (WINDOW.as_secs() / 60) as i64;
        while ledger.minutes.front().is_some_and(|minute| minute.index <= oldest) {
            ledger.minutes.pop_front();
        }
        if let Some(minute) = ledger.minutes.back_mut() {
            minute.points[charge.purpose.index()] += points;
            if charge.purpose.is_background() {
                minute.at_configured_intervals += points * u64::from(charge.stretch.max(1));
            }
        }
        points
    }

    /// When a request for `purpose` charged to `resource` must wait: background work yields once the window's
    /// budget is down to what is kept for priority work (the part beyond the background share), until the reset.
    /// Priority work always goes; the transport's own gate stops everyone when the budget is truly spent.
    pub fn deferred_until(&self, resource: RateResource, purpose: Purpose, now: Timestamp) -> Option<Timestamp> {
        if !purpose.is_background() {
            return None;
        }
        let budget = self.ledger(resource)?.budget?;
        let reserved = budget.limit - allowed(budget.limit, self.share_percent);
        (budget.reset > now && budget.remaining < reserved).then_some(budget.reset)
    }

    /// The outlook of every budget an answer has reported.
    pub fn outlook(&self, now: Timestamp) -> Vec<BudgetOutlook> {
        self.resources.iter().filter_map(|ledger| self.outlook_of(ledger, now)).collect()
    }

    /// The outlook of one budget, if an answer has reported it.
    pub fn outlook_for(&self, resource: RateResource, now: Timestamp) -> Option<BudgetOutlook> {
        self.outlook_of(self.ledger(resource)?, now)
    }

    fn ledger(&self, resource: RateResource) -> Option<&ResourceLedger> {
        self.resources.iter().find(|ledger| ledger.resource == resource)
    }

    fn outlook_of(&self, ledger: &ResourceLedger, now: Timestamp) -> Option<BudgetOutlook> {
        let resource = ledger.resource;
        let budget = ledger.budget?;
        let recent = recent_minutes(ledger, now);
        let used_last_hour = Purpose::ALL
            .into_iter()
            .map(|purpose| (purpose, recent.iter().map(|minute| minute.points[purpose.index()]).sum()))
            .collect();
        let background: u64 = recent.iter().map(|minute| minute.at_configured_intervals).sum();
        let projected_per_hour = project(background, ledger.since, now);
        let stretch = stretch_for(projected_per_hour, allowed(budget.limit, self.share_percent));
        let share_percent = self.share_percent;
        Some(BudgetOutlook { resource, budget, used_last_hour, projected_per_hour, share_percent, stretch })
    }
}

fn recent_minutes(ledger: &ResourceLedger, now: Timestamp) -> Vec<&Minute> {
    let oldest = now.as_second().div_euclid(60) - (WINDOW.as_secs() / 60) as i64;
    ledger.minutes.iter().filter(|minute| minute.index > oldest).collect()
}

/// `share_percent` of `limit`, rounded down.
fn allowed(limit: u64, share_percent: u8) -> u64 {
    limit.saturating_mul(u64::from(share_percent)) / 100
}

/// Points an hour at the rate `points` were spent since `since` (at most the last hour, at least [`MIN_SPAN`]).
fn project(points: u64, since: Timestamp, now: Timestamp) -> u64 {
    let span = super::rate_limit::until(since, now).clamp(MIN_SPAN, WINDOW).as_secs();
    (points.saturating_mul(WINDOW.as_secs())).div_ceil(span)
}

/// The whole factor that brings `projected` within `allowed`, at most [`MAX_STRETCH`].
fn stretch_for(projected: u64, allowed: u64) -> u32 {
    if projected <= allowed {
        return 1;
    }
    if allowed == 0 {
        return MAX_STRETCH;
    }
    u32::try_from(projected.div_ceil(allowed)).unwrap_or(MAX_STRETCH).min(MAX_STRETCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn rest(limit: u64, remaining: u64) -> Answer {
        Answer { free: false, budget: Some(RateBudget { limit, remaining, reset: t(3600) }), used: None }
    }

    fn at_interval(purpose: Purpose) -> Charge {
        Charge { purpose, stretch: 1 }
    }

    fn spend(ledger: &mut SpendingLedger, charge: Charge, at: Timestamp, n: u64, limit: u64) {
        for _ in 0..n {
            ledger.record(RateResource::Core, charge, at, rest(limit, limit));
        }
    }

    #[test]
    fn rest_points_are_answers_but_304s_graphql_points_are_the_growth_of_used() {
        let mut ledger = SpendingLedger::new(50);
        assert_eq!(ledger.record(RateResource::Core, at_interval(Purpose::Health), t(0), rest(5000, 4999)), 1);
        let free = Answer { free: true, ..rest(5000, 4999) };
        assert_eq!(ledger.record(RateResource::Core, at_interval(Purpose::Health), t(0), free), 0);
        let graphql = |remaining: u64, used: u64, reset: i64| Answer {
            free: false,
            budget: Some(RateBudget { limit: 5000, remaining, reset: t(reset) }),
            used: Some(used),
        };
        let mut query = |at, answer| ledger.record(RateResource::GraphQL, at_interval(Purpose::Resync), t(at), answer);
        assert_eq!(query(0, graphql(4990, 10, 3600)), 10, "the first answer: all of used");
        assert_eq!(query(1, graphql(4987, 13, 3600)), 3, "what used grew by");
        assert_eq!(query(2, graphql(4998, 2, 7200)), 2, "a new window: all of used");
        assert_eq!(query(3, Answer { used: None, ..graphql(4997, 3, 7200) }), 1, "no header: a point");
        let outlook = ledger.outlook(t(10));
        assert_eq!(outlook.iter().map(|o| o.resource).collect::<Vec<_>>(), [RateResource::Core, RateResource::GraphQL]);
        assert_eq!(outlook[0].used_last_hour[&Purpose::Health], 1);
        assert_eq!(outlook[1].used_last_hour[&Purpose::Resync], 16);
        assert_eq!(outlook[1].used_last_hour[&Purpose::Dispatch], 0);
    }

    #[test]
    fn points_leave_the_ledger_after_an_hour() {
        let mut ledger = SpendingLedger::new(50);
        spend(&mut ledger, at_interval(Purpose::Dispatch), t(0), 3, 5000);
        spend(&mut ledger, at_interval(Purpose::Dispatch), t(1800), 2, 5000);
        let used = |ledger: &SpendingLedger, at| ledger.outlook(at)[0].used_last_hour[&Purpose::Dispatch];
        assert_eq!(used(&ledger, t(1800)), 5);
        assert_eq!(used(&ledger, t(3600 + 60)), 2, "the first minute left the window");
        spend(&mut ledger, at_interval(Purpose::Dispatch), t(3 * 3600), 1, 5000);
        assert_eq!(used(&ledger, t(3 * 3600)), 1);
        assert!(ledger.resources[0].minutes.len() <= 61, "old minutes are dropped");
    }

    #[test]
    fn projection_extrapolates_background_from_at_least_ten_minutes_and_ignores_priority_work() {
        let mut ledger = SpendingLedger::new(50);
        spend(&mut ledger, at_interval(Purpose::Resync), t(0), 100, 5000);
        spend(&mut ledger, at_interval(Purpose::Health), t(30), 50, 5000);
        spend(&mut ledger, at_interval(Purpose::Dispatch), t(30), 500, 5000);
        // 150 background points in the first 30 s count as spent over ten minutes: 900 an hour.
        assert_eq!(ledger.outlook(t(30))[0].projected_per_hour, 900);
        // Twenty minutes on, the same points are a third of an hour's rate.
        assert_eq!(ledger.outlook(t(1200))[0].projected_per_hour, 450);
        assert_eq!(ledger.outlook(t(1200))[0].stretch, 1, "within 2,500");
    }

    #[test]
    fn a_projection_over_the_share_stretches_by_a_whole_factor_up_to_the_cap() {
        assert_eq!(stretch_for(2500, 2500), 1);
        assert_eq!(stretch_for(2501, 2500), 2);
        assert_eq!(stretch_for(3100, 250), 13.min(MAX_STRETCH));
        assert_eq!(stretch_for(1, 0), MAX_STRETCH);
        let mut ledger = SpendingLedger::new(50);
        // Limit 1,000: background may spend 500 an hour; 200 points in the first minutes project to 1,200.
        spend(&mut ledger, at_interval(Purpose::Resync), t(0), 200, 1000);
        let outlook = &ledger.outlook(t(60))[0];
        assert_eq!((outlook.projected_per_hour, outlook.allowed_per_hour(), outlook.stretch), (1200, 500, 3));
        assert_eq!(stretch_of(&ledger.outlook(t(60))), 3);
        assert_eq!(stretch_of(&[]), 1);
    }

    #[test]
    fn a_stretch_does_not_undo_itself_once_background_slows_down() {
        let mut ledger = SpendingLedger::new(50);
        spend(&mut ledger, at_interval(Purpose::Resync), t(0), 200, 1000);
        assert_eq!(ledger.outlook(t(60))[0].stretch, 3);
        // Stretched threefold, background spends a third as much; at the configured intervals it would cost as
        // much as before, so the stretch holds.
        spend(&mut ledger, Charge { purpose: Purpose::Resync, stretch: 3 }, t(600), 67, 1000);
        let outlook = &ledger.outlook(t(1200))[0];
        assert_eq!(outlook.used_last_hour[&Purpose::Resync], 267);
        assert_eq!(outlook.projected_per_hour, (200 + 67 * 3) * 3);
        assert_eq!(outlook.stretch, 3);
    }

    #[test]
    fn the_share_is_configurable_and_clamped() {
        let mut ledger = SpendingLedger::new(5);
        spend(&mut ledger, at_interval(Purpose::Health), t(0), 10, 1000);
        let outlook = &ledger.outlook(t(0))[0];
        assert_eq!((outlook.share_percent, outlook.allowed_per_hour(), outlook.stretch), (5, 50, 2));
        assert_eq!(SpendingLedger::new(0).share_percent, 1);
        assert_eq!(SpendingLedger::new(200).share_percent, 100);
    }

    #[test]
    fn background_yields_the_reserved_part_of_the_window_while_priority_work_goes() {
        let mut ledger = SpendingLedger::new(50);
        assert_eq!(ledger.deferred_until(RateResource::Core, Purpose::Resync, t(0)), None, "nothing known yet");
        ledger.record(RateResource::Core, at_interval(Purpose::Dispatch), t(0), rest(5000, 2500));
        assert_eq!(ledger.deferred_until(RateResource::Core, Purpose::Resync, t(0)), None, "half is left");
        ledger.record(RateResource::Core, at_interval(Purpose::Dispatch), t(0), rest(5000, 2499));
        assert_eq!(ledger.deferred_until(RateResource::Core, Purpose::Resync, t(0)), Some(t(3600)));
        assert_eq!(ledger.deferred_until(RateResource::Core, Purpose::Health, t(0)), Some(t(3600)));
        for purpose in [Purpose::Webhook, Purpose::Dispatch, Purpose::Healing] {
            assert_eq!(ledger.deferred_until(RateResource::Core, purpose, t(0)), None, "{purpose:?} goes");
        }
        assert_eq!(ledger.deferred_until(RateResource::Core, Purpose::Resync, t(3600)), None, "the window reset");
        assert_eq!(ledger.deferred_until(RateResource::GraphQL, Purpose::Resync, t(0)), None, "budgets are separate");
    }

    #[tokio::test]
    async fn the_charge_is_the_scope_s_and_a_resync_outside_any() {
        assert_eq!(Charge::current(), at_interval(Purpose::Resync));
        let inner = Purpose::Dispatch.scope(async { Charge::current() }).await;
        assert_eq!(inner, at_interval(Purpose::Dispatch));
        let stretched = Charge { purpose: Purpose::Health, stretch: 4 };
        let nested = stretched.scope(Purpose::Webhook.scope(async { Charge::current() })).await;
        assert_eq!(nested, at_interval(Purpose::Webhook), "the innermost scope wins");
        let zero = Charge { purpose: Purpose::Health, stretch: 0 };
        assert_eq!(zero.scope(async { Charge::current() }).await.stretch, 1);
    }
}

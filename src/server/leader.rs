//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas only one reconciles. A replica
//! that loses the Lease stops its controllers and exits; Kubernetes restarts it as a follower.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ObjectMeta, PostParams};

use crate::clock::Clock;

/// Timings of the election, as in Kubernetes' own components.
#[derive(Clone, Copy, Debug)]
pub struct LeaseTimings {
    /// How long a Lease holds without renewal; followers take over after it.
    pub lease_duration: Duration,
    /// The leader gives up when it could not renew for this long (less than `lease_duration`, so it stops before a
    /// follower can start).
    pub renew_deadline: Duration,
    /// How often the leader renews and followers look.
    pub retry_period: Duration,
}

impl Default for LeaseTimings {
    fn default() -> Self {
        LeaseTimings {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What the Lease says, as far as the decision needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedLease {
    /// Who holds it; `None` or empty when released.
    pub holder: Option<String>,
    /// When the holder last renewed it.
    pub renewed_at: Option<Timestamp>,
    /// How long it holds without renewal.
    pub duration: Duration,
}

/// What to do about the Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseDecision {
    /// Take it: it is missing, released or expired.
    Acquire,
    /// Renew it: we hold it.
    Renew,
    /// Leave it: someone else holds it and has renewed in time.
    Follow {
        /// The current holder.
        holder: String,
    },
}

/// Decides from the observed Lease (`None` when it does not exist) what `me` should do at `now`.
pub fn decide(lease: Option<&ObservedLease>, me: &str, now: Timestamp) -> LeaseDecision {
    let Some(lease) = lease else { return LeaseDecision::Acquire };
    let holder = lease.holder.as_deref().filter(|h| !h.is_empty());
    match holder {
        None => LeaseDecision::Acquire,
        Some(holder) if holder == me => LeaseDecision::Renew,
        Some(holder) => {
            let duration = SignedDuration::try_from(lease.duration).unwrap_or(SignedDuration::MAX);
            let expired = match lease.renewed_at {
                Some(renewed) => renewed.saturating_add(duration).is_ok_and(|expiry| expiry <= now),
                None => true,
            };
            if expired {
                LeaseDecision::Acquire
            } else {
                LeaseDecision::Follow { holder: holder.to_owned() }
            }
        }
    }
}

/// Why leader election stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Lease could not be renewed before the deadline, or someone else took it.
    #[error("lost the leader Lease {name}: {reason}")]
    Lost { name: String, reason: String },
}

/// Takes part in the election for one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timings: LeaseTimings,
    clock: Arc<dyn Clock>,
}

impl LeaderElector {
    /// An elector for the Lease `namespace/name`, running as `identity` (unique per replica: the pod name).
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timings: LeaseTimings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        LeaderElector {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            timings,
            clock,
        }
    }

    /// Returns once this process holds the Lease. API errors are logged and retried.
    pub async fn acquire(&self) {
        let mut following: Option<String> = None;
        loop {
            match self.try_once().await {
                Ok(None) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "became the leader");
                    return;
                }
                Ok(Some(holder)) => {
                    if following.as_deref() != Some(holder.as_str()) {
                        tracing::info!(lease = %self.name, %holder, "following the leader");
                        following = Some(holder);
                    }
                }
                Err(error) => tracing::warn!(lease = %self.name, %error, "could not read or take the Lease"),
            }
            tokio::time::sleep(self.timings.retry_period).await;
        }
    }

    /// Renews the Lease until renewing fails for longer than the renew deadline or someone else holds it; returns
    /// why leadership was lost. Never returns while leadership holds.
    pub async fn hold(&self) -> Error {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.timings.retry_period).await;
            match self.try_once().await {
                Ok(None) => last_renewal = tokio::time::Instant::now(),
                Ok(Some(holder)) => {
                    return Error::Lost { name: self.name.clone(), reason: format!("{holder} holds it now") };
                }
                Err(error) => {
                    tracing::warn!(lease = %self.name, %error, "could not renew the Lease");
                    if last_renewal.elapsed() >= self.timings.renew_deadline {
                        return Error::Lost {
                            name: self.name.clone(),
                            reason: format!("not renewed for {:?}: {error}", self.timings.renew_deadline),
                        };
                    }
                }
            }
        }
    }

    /// Gives the Lease up at shutdown so that a follower takes over at once instead of waiting for it to expire.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else { return };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        if let Err(error) = self.api.replace(&self.name, &PostParams::default(), &lease).await {
            tracing::warn!(lease = %self.name, %error, "could not release the Lease");
        }
    }

    /// One look at the Lease and the write the decision calls for. `Ok(None)` means we hold it now;
    /// `Ok(Some(holder))` that someone else does.
    async fn try_once(&self) -> Result<Option<String>, kube::Error> {
        let now = self.clock.now();
        let existing = self.api.get_opt(&self.name).await?;
        let observed = existing.as_ref().map(observe);
        match decide(observed.as_ref(), &self.identity, now) {
            LeaseDecision::Follow { holder } => Ok(Some(holder)),
            LeaseDecision::Renew => {
                let mut lease = existing.unwrap_or_default();
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                spec.renew_time = Some(MicroTime(now));
                spec.lease_duration_seconds = Some(self.lease_seconds());
                // The resourceVersion in `lease` makes this fail with a conflict if someone wrote in between.
                self.api.replace(&self.name, &PostParams::default(), &lease).await?;
                Ok(None)
            }
            LeaseDecision::Acquire => {
                let spec = LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(self.lease_seconds()),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(
                        existing.as_ref().and_then(|l| l.spec.as_ref()?.lease_transitions).unwrap_or(0) + 1,
                    ),
                    ..Default::default()
                };
                match existing {
                    Some(mut lease) => {
                        lease.spec = Some(spec);
                        self.api.replace(&self.name, &PostParams::default(), &lease).await?;
                    }
                    None => {
                        let lease = Lease {
                            metadata: ObjectMeta { name: Some(self.name.clone()), ..Default::default() },
                            spec: Some(spec),
                        };
                        self.api.create(&PostParams::default(), &lease).await?;
                    }
                }
                Ok(None)
            }
        }
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.timings.lease_duration.as_secs()).unwrap_or(i32::MAX).max(1)
    }
}

fn observe(lease: &Lease) -> ObservedLease {
    let spec = lease.spec.clone().unwrap_or_default();
    ObservedLease {
        holder: spec.holder_identity,
        renewed_at: spec.renew_time.map(|t| t.0),
        duration: Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(15)).unwrap_or(15)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn held_by(holder: &str, renewed: i64) -> ObservedLease {
        ObservedLease { holder: Some(holder.into()), renewed_at: Some(at(renewed)), duration: Duration::from_secs(15) }
    }

    #[test]
    fn a_missing_or_released_lease_is_taken() {
        assert_eq!(decide(None, "a", at(0)), LeaseDecision::Acquire);
        let released = ObservedLease { holder: None, renewed_at: None, duration: Duration::from_secs(15) };
        assert_eq!(decide(Some(&released), "a", at(0)), LeaseDecision::Acquire);
        let emptied = ObservedLease { holder: Some(String::new()), ..released };
        assert_eq!(decide(Some(&emptied), "a", at(0)), LeaseDecision::Acquire);
    }

    #[test]
    fn the_holder_renews() {
        assert_eq!(decide(Some(&held_by("a", 0)), "a", at(100)), LeaseDecision::Renew);
    }

    #[test]
    fn others_follow_until_it_expires() {
        let lease = held_by("a", 0);
        assert_eq!(decide(Some(&lease), "b", at(14)), LeaseDecision::Follow { holder: "a".into() });
        assert_eq!(decide(Some(&lease), "b", at(15)), LeaseDecision::Acquire);
        let never_renewed = ObservedLease { renewed_at: None, ..held_by("a", 0) };
        assert_eq!(decide(Some(&never_renewed), "b", at(0)), LeaseDecision::Acquire);
    }
}

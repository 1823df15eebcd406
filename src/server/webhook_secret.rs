//! When the webhook receiver reads an Organization's webhook secret again rather than trusting what it read before.
//! A read per delivery would cost the API server a request per delivery; never reading again would miss a rotation.

use std::time::{Duration, Instant};

/// How long a read webhook secret is trusted, and how often a mismatching signature may cause a read.
#[derive(Clone, Copy, Debug)]
pub struct SecretReads {
    /// Past this age the secret is read again before it verifies a delivery: a secret removed from the Secret
    /// stops verifying deliveries within this time.
    pub max_age: Duration,
    /// A signature that the remembered secret does not verify (after a rotation, or from a forger) causes a read
    /// only when the last read is at least this old, so that forged deliveries cannot make reads without bound.
    pub min_interval: Duration,
}

impl Default for SecretReads {
    fn default() -> Self {
        SecretReads { max_age: Duration::from_secs(60), min_interval: Duration::from_secs(10) }
    }
}

impl SecretReads {
    /// Whether to read the Secret before verifying a delivery, given when it was last read (`None`: never) and
    /// whether the secret read then verifies the delivery's signature.
    pub fn read_again(&self, last_read: Option<Instant>, verifies: bool, now: Instant) -> bool {
        let Some(last_read) = last_read else { return true };
        let age = now.saturating_duration_since(last_read);
        age >= self.max_age || (!verifies && age >= self.min_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn reads_a_secret_never_read() {
        assert!(SecretReads::default().read_again(None, false, Instant::now()));
    }

    #[test]
    fn trusts_a_verifying_secret_until_it_is_too_old() {
        let (reads, read) = (SecretReads::default(), Instant::now());
        assert!(!reads.read_again(Some(read), true, read + 59 * SECOND));
        assert!(reads.read_again(Some(read), true, read + 60 * SECOND), "past the age, even when it verifies");
    }

    #[test]
    fn a_mismatch_reads_again_at_most_once_per_interval() {
        let (reads, read) = (SecretReads::default(), Instant::now());
        // A forger sending many deliveries right after a read causes no read ...
        for seconds in 0..10 {
            assert!(!reads.read_again(Some(read), false, read + seconds * SECOND), "{seconds} s after a read");
        }
        // ... and one read per interval after that, as does a rotation.
        assert!(reads.read_again(Some(read), false, read + 10 * SECOND));
    }
}

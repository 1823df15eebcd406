//! Wakes asked for inside this process. The webhook receiver hands a BuildPlan to the controller listening here
//! (this replica leads) instead of writing anything: the reconcile starts at once, and the plan is not written twice
//! per step. Only where no controller listens (a follower) does the receiver write the wake annotation, which
//! reaches the leader through its watch. A leader that stops before the reconcile loses nothing: its successor
//! reconciles every plan when it starts.

use std::sync::{Arc, Mutex};

use futures::channel::mpsc;
use futures::Stream;
use kube::runtime::reflector::ObjectRef;
use kube::Resource;

/// Where wakes of one kind's objects go: to the controller of that kind listening in this process, if any.
pub struct Wakes<K: Resource<DynamicType = ()>> {
    listener: Arc<Mutex<Option<mpsc::UnboundedSender<ObjectRef<K>>>>>,
}

impl<K: Resource<DynamicType = ()>> Clone for Wakes<K> {
    fn clone(&self) -> Self {
        Wakes { listener: self.listener.clone() }
    }
}

impl<K: Resource<DynamicType = ()>> Default for Wakes<K> {
    fn default() -> Self {
        Wakes { listener: Arc::default() }
    }
}

impl<K: Resource<DynamicType = ()> + 'static> Wakes<K> {
    /// Asks the controller listening in this process to reconcile `object`; false when none listens (this replica
    /// does not lead, or its controller stopped).
    pub fn wake(&self, object: ObjectRef<K>) -> bool {
        let listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        listener.as_ref().is_some_and(|sender| sender.unbounded_send(object).is_ok())
    }

    /// The wakes from now on, for `Controller::reconcile_on`; a later call takes them over, and dropping the stream
    /// stops them.
    pub fn listen(&self) -> impl Stream<Item = ObjectRef<K>> + Send + 'static {
        let (sender, wakes) = mpsc::unbounded();
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender);
        wakes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::BuildPlan;
    use futures::StreamExt;

    #[tokio::test]
    async fn a_wake_reaches_the_latest_listener_while_it_listens() {
        let wakes: Wakes<BuildPlan> = Wakes::default();
        let plan = ObjectRef::new("chain").within("ns");
        assert!(!wakes.wake(plan.clone()), "nobody listens yet");
        let first = wakes.listen();
        let mut second = wakes.listen();
        assert!(wakes.wake(plan.clone()));
        assert_eq!(second.next().await, Some(plan.clone()), "the latest listener takes the wakes over");
        drop(first);
        drop(second);
        assert!(!wakes.wake(plan), "the listener stopped");
    }
}

//! Concurrency limits: a bound on runs in flight for the whole runner, and a smaller one per
//! resource so a burst of checks never piles onto one database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_concurrent: usize,
    pub max_per_resource: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent: 16,
            max_per_resource: 2,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Gate {
    global: Arc<Semaphore>,
    per_resource: Mutex<HashMap<String, Arc<Semaphore>>>,
    limits: Limits,
}

pub(crate) struct Permits {
    _global: OwnedSemaphorePermit,
    _resource: OwnedSemaphorePermit,
}

impl Gate {
    pub fn new(limits: Limits) -> Self {
        Gate {
            global: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            per_resource: Mutex::new(HashMap::new()),
            limits,
        }
    }

    pub async fn enter(&self, resource: &str) -> Permits {
        let sem = {
            let mut map = self.per_resource.lock().unwrap();
            map.entry(resource.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.limits.max_per_resource.max(1))))
                .clone()
        };
        // Resource first: a run waiting on a busy resource holds no global slot.
        let resource = sem.acquire_owned().await.expect("semaphore never closed");
        let global = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        Permits {
            _global: global,
            _resource: resource,
        }
    }
}

//! A simulated Deployment: pods that become ready `startup` seconds after
//! they are created and leave at once when removed (newest, not-ready first,
//! as a ReplicaSet picks them), and their view as decision inputs.

use std::collections::BTreeMap;

use crate::decide::{Container, Pod, PodPhase, Time};

/// The pods of one simulated Deployment, kept in creation order.
pub struct Deployment {
    /// The pods as the decision chain sees them.
    pods: Vec<Pod>,
    /// When each pod (same index) becomes ready; ascending.
    ready_at: Vec<i64>,
    startup_s: i64,
    next_id: u64,
}

/// Every simulated pod requests one CPU.
pub const CPU_REQUEST_MILLI: i64 = 1000;

fn time(t: i64) -> Time {
    Time::from_timestamp(t, 0).unwrap_or_default()
}

impl Deployment {
    /// `initial` pods, ready since long before `start`.
    pub fn new(initial: i32, startup_s: i64, start: i64) -> Self {
        let mut d = Deployment {
            pods: Vec::new(),
            ready_at: Vec::new(),
            startup_s,
            next_id: 0,
        };
        d.add(initial.max(0) as usize, start - 3600 - startup_s);
        d
    }

    fn add(&mut self, n: usize, created: i64) {
        for _ in 0..n {
            self.ready_at.push(created + self.startup_s);
            self.pods.push(Pod {
                name: format!("pod-{}", self.next_id),
                phase: PodPhase::Running,
                ready: Some(false),
                ready_transition_time: time(created),
                deleted: false,
                start_time: Some(time(created)),
                containers: vec![Container {
                    name: "app".into(),
                    requests: [("cpu".to_string(), CPU_REQUEST_MILLI)].into(),
                }],
                pod_requests: BTreeMap::new(),
            });
            self.next_id += 1;
        }
    }

    /// Scales to `replicas` at `t`: new pods start, removed pods leave now.
    pub fn scale(&mut self, replicas: i32, t: i64) {
        let target = replicas.max(0) as usize;
        if target > self.pods.len() {
            self.add(target - self.pods.len(), t);
        } else {
            self.pods.truncate(target);
            self.ready_at.truncate(target);
        }
    }

    /// Pods that exist (ready or starting).
    pub fn replicas(&self) -> usize {
        self.pods.len()
    }

    /// Pods ready at `t` (pods are created in order, so readiness is a prefix).
    pub fn ready_at(&self, t: i64) -> usize {
        self.ready_at.partition_point(|&r| r <= t)
    }

    /// Updates the pods' Ready condition for time `t`.
    pub fn mark_ready(&mut self, t: i64) {
        let ready = self.ready_at(t);
        for (p, &at) in self.pods[..ready].iter_mut().zip(&self.ready_at).rev() {
            if p.ready == Some(true) {
                break; // readiness is a prefix: the rest were updated before
            }
            p.ready = Some(true);
            p.ready_transition_time = time(at);
        }
    }

    /// The pods as the decision chain sees them (after `mark_ready`).
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// The pods that were ready at `t` and still exist.
    pub fn ready_pods(&self, t: i64) -> &[Pod] {
        &self.pods[..self.ready_at(t)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_start_then_become_ready_and_leave_newest_first() {
        let mut d = Deployment::new(2, 30, 1000);
        assert_eq!(d.ready_at(1000), 2);
        d.scale(5, 1000);
        assert_eq!(d.replicas(), 5);
        assert_eq!(d.ready_at(1029), 2);
        assert_eq!(d.ready_at(1030), 5);
        d.scale(3, 1010);
        assert_eq!(d.replicas(), 3);
        assert_eq!(d.ready_at(1030), 3);
        d.mark_ready(1030);
        let view = d.pods();
        assert!(view.iter().all(|p| p.ready == Some(true)));
        assert_eq!(view[2].name, "pod-2");
    }
}

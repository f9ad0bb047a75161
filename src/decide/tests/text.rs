//! The human-readable rendering of a decision (`Decision::to_text`): which
//! parts appear when, and the one step marked as the one that decided.
//! (Written against cargo-mutants survivors: each test fails with the mutant
//! in.)

use super::*;

fn decided_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains("<- decided")).collect()
}

#[test]
fn a_rescale_lists_its_proposals_and_marks_the_deciding_step_once() {
    let mut c = case(CPU50, 3);
    c.obs = vec![cpu(&[900, 900, 900])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 6);
    let text = d.to_text();
    assert!(
        text.starts_with("desired replicas: 6 (current 3, scale up)\n"),
        "{text}"
    );
    assert!(text.contains("\nproposals:\n"), "{text}");
    assert!(text.contains(": 6 replicas (utilization 90%"), "{text}");
    // Every pod was counted and the ratio was outside the band.
    assert!(!text.contains(" pods: the other "), "{text}");
    assert!(!text.contains("within tolerance"), "{text}");
    let deciding = d.deciding_step().expect("the count changed").step;
    let marked = decided_lines(&text);
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].trim_start().starts_with(deciding), "{text}");
}

#[test]
fn a_count_within_tolerance_says_so_and_marks_no_step() {
    let mut c = case(CPU50, 3);
    c.obs = vec![cpu(&[520, 520, 520])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 3);
    let text = d.to_text();
    assert!(text.contains("within tolerance"), "{text}");
    assert!(text.contains("(current 3, no change)"), "{text}");
    assert!(decided_lines(&text).is_empty(), "{text}");
}

#[test]
fn pods_left_out_of_the_count_are_named_and_no_proposals_no_heading() {
    let text = super::recompute::four_of_ten_counted().run().to_text();
    assert!(
        text.contains("from 4 pods: the other 6 of the 10 current replicas"),
        "{text}"
    );

    let mut c = case("{maxReplicas: 100}", 2);
    c.raw = Some(4);
    let d = c.run();
    assert!(d.proposals.is_empty(), "{:?}", d.proposals);
    let text = d.to_text();
    assert!(!text.contains("proposals:"), "{text}");
    assert!(text.contains("\nsteps:\n"), "{text}");
}

//! `backup status` and `backup create --auto`: how far the database has moved
//! since the last backup, and whether that is enough to take a new one.
//! Deletions count as change, not only growth: counts are compared per label
//! and per relationship type, so 30 nodes deleted and 30 added elsewhere are
//! 60 changes, not zero.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Thresholds;
pub use crate::graph::counts::Counts;
use crate::graph::{Db, GraphError};

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub nodes: i64,
    pub relationships: i64,
    /// Nodes added or removed, summed per label.
    pub nodes_changed: u64,
    /// Relationships added or removed, summed per type.
    pub relationships_changed: u64,
    /// Largest relative change of the two totals (0.1 = 10 %).
    pub fraction: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    pub backup_recommended: bool,
    pub reason: String,
}

/// The database's counts now, from the count store.
pub async fn current_counts(db: &Db) -> Result<Counts, GraphError> {
    crate::graph::counts::counts(db).await
}

fn abs_diff_sum(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> u64 {
    a.keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|k| {
            let x = a.get(k).copied().unwrap_or(0);
            let y = b.get(k).copied().unwrap_or(0);
            x.abs_diff(y)
        })
        .sum()
}

pub fn change(last: &Counts, now: &Counts) -> Change {
    let nodes_changed = abs_diff_sum(&last.label_counts, &now.label_counts)
        .max(last.node_count.abs_diff(now.node_count));
    let relationships_changed = abs_diff_sum(
        &last.relationship_type_counts,
        &now.relationship_type_counts,
    )
    .max(last.relationship_count.abs_diff(now.relationship_count));
    let rel = |changed: u64, base: u64| {
        if base == 0 {
            if changed > 0 {
                1.0
            } else {
                0.0
            }
        } else {
            changed as f64 / base as f64
        }
    };
    Change {
        nodes: now.node_count as i64 - last.node_count as i64,
        relationships: now.relationship_count as i64 - last.relationship_count as i64,
        nodes_changed,
        relationships_changed,
        fraction: rel(nodes_changed, last.node_count)
            .max(rel(relationships_changed, last.relationship_count)),
    }
}

/// The plan's rule, with deletions counted as change.
pub fn recommend(change: Option<&Change>, t: &Thresholds) -> Recommendation {
    let Some(c) = change else {
        return Recommendation {
            backup_recommended: true,
            reason: "no backup exists yet".into(),
        };
    };
    let (yes, reason) = if c.nodes_changed >= t.nodes {
        (
            true,
            format!(
                "{} nodes added or removed, threshold {}",
                c.nodes_changed, t.nodes
            ),
        )
    } else if c.relationships_changed >= t.relationships {
        (
            true,
            format!(
                "{} relationships added or removed, threshold {}",
                c.relationships_changed, t.relationships
            ),
        )
    } else if c.fraction >= t.percentage && (c.nodes_changed > 0 || c.relationships_changed > 0) {
        (
            true,
            format!(
                "a {:.1}% change, threshold {:.1}%",
                (c.fraction * 100.0).min(100_000.0),
                t.percentage * 100.0
            ),
        )
    } else {
        (
            false,
            "changes since the last backup are below every threshold".into(),
        )
    };
    Recommendation {
        backup_recommended: yes,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(labels: &[(&str, u64)], rels: u64) -> Counts {
        let label_counts: BTreeMap<String, u64> =
            labels.iter().map(|(l, n)| (l.to_string(), *n)).collect();
        Counts {
            node_count: label_counts.values().sum(),
            relationship_count: rels,
            label_counts,
            relationship_type_counts: [("R".to_string(), rels)].into_iter().collect(),
        }
    }

    #[test]
    fn deletions_count_as_change() {
        let t = Thresholds::default();
        let last = counts(&[("A", 1000)], 1000);
        let now = counts(&[("A", 940)], 1000);
        let c = change(&last, &now);
        assert_eq!(c.nodes, -60);
        assert!(recommend(Some(&c), &t).backup_recommended);
    }

    #[test]
    fn swaps_between_labels_are_not_zero() {
        let t = Thresholds::default();
        let last = counts(&[("A", 1000), ("B", 1000)], 5000);
        let now = counts(&[("A", 970), ("B", 1030)], 5000);
        let c = change(&last, &now);
        assert_eq!(c.nodes, 0);
        assert_eq!(c.nodes_changed, 60);
        assert!(recommend(Some(&c), &t).backup_recommended);
    }

    #[test]
    fn small_changes_and_percentages() {
        let t = Thresholds::default();
        let last = counts(&[("A", 1000)], 1000);
        let c = change(&last, &counts(&[("A", 1010)], 1000));
        assert!(!recommend(Some(&c), &t).backup_recommended);
        let last = counts(&[("A", 20)], 0);
        let c = change(&last, &counts(&[("A", 23)], 0));
        assert!(
            recommend(Some(&c), &t).backup_recommended,
            "15% of a small graph"
        );
        assert!(recommend(None, &t).backup_recommended);
        let c = change(&last, &last.clone());
        assert!(!recommend(Some(&c), &t).backup_recommended);
    }
}

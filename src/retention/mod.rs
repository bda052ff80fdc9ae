//! Retention policies in the style of restic `forget`: which backups of a
//! kind to keep, decided by a pure function over (name, kind, timestamp), so
//! the rules can be tested without files and `backup prune --dry-run` can say
//! exactly which rule kept what.
//!
//! Semantics (restic's):
//! - `keep_last N`: the N newest backups.
//! - `keep_daily N` / `keep_weekly N` / `keep_monthly N`: walk the backups
//!   newest first; keep the newest backup of each of the last N distinct days
//!   (ISO weeks, months) that have a backup. Days without a backup do not use
//!   up a slot.
//! - `keep_within D`: every backup less than D older than the *newest backup
//!   of its kind* (not "now": when backups stop, nothing ages out by itself).
//! - A backup is kept when any rule keeps it (the union); every rule that
//!   kept it is listed.
//!
//! Time: a backup's metadata timestamp, in UTC; days, ISO weeks (Monday to
//! Sunday, numbered as ISO 8601 does) and months are UTC calendar periods.
//! The layer sits below `config` and `backup`: it knows only chrono.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use serde::Serialize;

/// `keep_within`: a duration such as `7d`, `12h`, `2w` or `1w3d12h`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Within {
    text: String,
    span: TimeDelta,
}

impl Within {
    pub fn parse(text: &str) -> Result<Within, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty duration; use e.g. 7d, 12h, 2w or 1w3d".into());
        }
        let mut hours: i64 = 0;
        let mut digits = String::new();
        for c in t.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let n: i64 = digits
                .parse()
                .map_err(|_| format!("`{t}`: a number must come before `{c}` (e.g. 7d)"))?;
            digits.clear();
            let per = match c {
                'h' => 1,
                'd' => 24,
                'w' => 24 * 7,
                'm' | 'y' => {
                    return Err(format!(
                        "`{t}`: months and years are not used (their length varies); write days, e.g. 90d or 365d"
                    ))
                }
                _ => {
                    return Err(format!(
                        "`{t}`: unknown unit `{c}`; use h (hours), d (days) or w (weeks), e.g. 7d, 12h, 2w"
                    ))
                }
            };
            hours = n
                .checked_mul(per)
                .and_then(|v| hours.checked_add(v))
                .filter(|h| *h <= 24 * 365 * 1000)
                .ok_or_else(|| format!("`{t}` is too long"))?;
        }
        if !digits.is_empty() {
            return Err(format!(
                "`{t}`: the number {digits} has no unit; use h, d or w, e.g. {digits}d"
            ));
        }
        if hours == 0 {
            return Err(format!("`{t}` is zero; a duration must be at least 1h"));
        }
        Ok(Within {
            text: t.to_owned(),
            span: TimeDelta::hours(hours),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn span(&self) -> TimeDelta {
        self.span
    }
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Within {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// The rules for one kind of backup. A rule of 0 (or no `within`) is off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_within: Option<Within>,
}

impl Policy {
    /// The original plan's single-backup retention, with `n` = `[backup] keep`.
    pub fn keep_last(n: u32) -> Policy {
        Policy {
            keep_last: n,
            ..Policy::default()
        }
    }

    /// A policy with no rule would keep nothing: never accepted.
    pub fn is_empty(&self) -> bool {
        self.keep_last == 0
            && self.keep_daily == 0
            && self.keep_weekly == 0
            && self.keep_monthly == 0
            && self.keep_within.is_none()
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (name, n) in [
            ("last", self.keep_last),
            ("daily", self.keep_daily),
            ("weekly", self.keep_weekly),
            ("monthly", self.keep_monthly),
        ] {
            if n > 0 {
                parts.push(format!("keep-{name} {n}"));
            }
        }
        if let Some(w) = &self.keep_within {
            parts.push(format!("keep-within {w}"));
        }
        if parts.is_empty() {
            f.write_str("keep nothing")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A policy per kind of backup, with a default for kinds without their own
/// (also for a kind this release does not know, from an older or newer tool).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policies {
    pub default: Policy,
    pub per_kind: BTreeMap<String, Policy>,
}

impl Policies {
    /// The same policy for every kind.
    pub fn uniform(policy: Policy) -> Policies {
        Policies {
            default: policy,
            per_kind: BTreeMap::new(),
        }
    }

    pub fn for_kind(&self, kind: &str) -> &Policy {
        self.per_kind.get(kind).unwrap_or(&self.default)
    }
}

impl Default for Policies {
    /// The plan's single-backup retention: the newest backup of each kind.
    fn default() -> Policies {
        Policies::uniform(Policy::keep_last(1))
    }
}

/// One backup, as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub kind: String,
    pub time: DateTime<Utc>,
}

/// Why a backup is kept. Serialised as `{"rule": "daily", "period": "2026-03-01"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum KeepReason {
    /// The n-th newest of its kind, within `keep_last`.
    Last {
        n: u32,
    },
    Daily {
        period: String,
    },
    Weekly {
        period: String,
    },
    Monthly {
        period: String,
    },
    /// Less than `duration` older than the newest backup of its kind.
    Within {
        duration: String,
    },
    /// The last backup of any kind left: never removed.
    OnlyBackup,
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::Last { n } => write!(f, "last {n}"),
            KeepReason::Daily { period } => write!(f, "daily {period}"),
            KeepReason::Weekly { period } => write!(f, "weekly {period}"),
            KeepReason::Monthly { period } => write!(f, "monthly {period}"),
            KeepReason::Within { duration } => write!(f, "within {duration} of the newest"),
            KeepReason::OnlyBackup => f.write_str("the only backup left"),
        }
    }
}

/// What retention decided for one backup: kept when `reasons` is not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub candidate: Candidate,
    pub reasons: Vec<KeepReason>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// Decides, kind by kind, which backups each policy keeps. The result holds
/// every candidate, newest first (ties broken by name, as the folder listing
/// does). Never removes every backup: if the policies would, the newest stays.
pub fn decide(candidates: &[Candidate], policies: &Policies) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.name.cmp(&a.name)));
    let mut by_kind: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in sorted.iter().enumerate() {
        by_kind.entry(c.kind.as_str()).or_default().push(i);
    }
    let mut reasons: Vec<Vec<KeepReason>> = vec![Vec::new(); sorted.len()];
    for (kind, indexes) in &by_kind {
        let group: Vec<&Candidate> = indexes.iter().map(|&i| sorted[i]).collect();
        for (pos, rs) in decide_one_kind(&group, policies.for_kind(kind))
            .into_iter()
            .enumerate()
        {
            reasons[indexes[pos]] = rs;
        }
    }
    if !sorted.is_empty() && reasons.iter().all(Vec::is_empty) {
        reasons[0].push(KeepReason::OnlyBackup);
    }
    sorted
        .into_iter()
        .zip(reasons)
        .map(|(c, reasons)| Decision {
            candidate: c.clone(),
            reasons,
        })
        .collect()
}

/// The rules of one policy over one kind's backups, given newest first.
fn decide_one_kind(group: &[&Candidate], policy: &Policy) -> Vec<Vec<KeepReason>> {
    struct Bucket {
        count: u32,
        last: Option<String>,
        key: fn(&DateTime<Utc>) -> String,
        reason: fn(String) -> KeepReason,
    }
    let mut buckets = [
        Bucket {
            count: policy.keep_daily,
            last: None,
            key: |t| t.format("%Y-%m-%d").to_string(),
            reason: |period| KeepReason::Daily { period },
        },
        Bucket {
            count: policy.keep_weekly,
            last: None,
            key: |t| {
                let w = t.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            },
            reason: |period| KeepReason::Weekly { period },
        },
        Bucket {
            count: policy.keep_monthly,
            last: None,
            key: |t| t.format("%Y-%m").to_string(),
            reason: |period| KeepReason::Monthly { period },
        },
    ];
    let newest = group.first().map(|c| c.time);
    let mut out = Vec::with_capacity(group.len());
    for (i, c) in group.iter().enumerate() {
        let mut rs = Vec::new();
        if (i as u64) < u64::from(policy.keep_last) {
            rs.push(KeepReason::Last { n: i as u32 + 1 });
        }
        for b in buckets.iter_mut() {
            if b.count == 0 {
                continue;
            }
            let key = (b.key)(&c.time);
            if b.last.as_deref() != Some(key.as_str()) {
                b.last = Some(key.clone());
                b.count -= 1;
                rs.push((b.reason)(key));
            }
        }
        if let (Some(w), Some(newest)) = (&policy.keep_within, newest) {
            if c.time > newest - w.span() {
                rs.push(KeepReason::Within {
                    duration: w.to_string(),
                });
            }
        }
        out.push(rs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn cand(time: DateTime<Utc>, kind: &str) -> Candidate {
        Candidate {
            name: format!(
                "ign_scripts_db_backup_{}.json",
                time.format("%Y%m%d_%H%M%S")
            ),
            kind: kind.into(),
            time,
        }
    }

    fn kept(ds: &[Decision]) -> Vec<String> {
        ds.iter()
            .filter(|d| d.keep())
            .map(|d| d.candidate.time.format("%m-%d %H").to_string())
            .collect()
    }

    /// 62 full backups over the 90 days from 2026-01-01 to 2026-03-31 (a
    /// Tuesday): one at 03:00 UTC on each day `d` (0 to 89) days before March 31 with
    /// `d % 3 != 2` (so every third day has none), and a second at 15:00 on
    /// March 31 and March 28.
    fn ninety_days() -> Vec<Candidate> {
        let last = at(2026, 3, 31, 3);
        let mut v: Vec<Candidate> = (0..90)
            .filter(|d| d % 3 != 2)
            .map(|d| cand(last - TimeDelta::days(d), "full"))
            .collect();
        v.push(cand(at(2026, 3, 31, 15), "full"));
        v.push(cand(at(2026, 3, 28, 15), "full"));
        v
    }

    #[test]
    fn daily_weekly_monthly_over_ninety_days_match_the_hand_computed_set() {
        let set = ninety_days();
        assert_eq!(set.len(), 62);
        assert_eq!(set.first().unwrap().time, at(2026, 3, 31, 3));
        // d = 89 (January 1st) is a day without one: the oldest is January 2nd.
        assert_eq!(set[59].time, at(2026, 1, 2, 3));
        let policy = Policy {
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 3,
            ..Policy::default()
        };
        let ds = decide(&set, &Policies::uniform(policy));
        assert_eq!(ds.len(), 62, "every backup gets a decision");
        // By hand. Days with a backup, newest first: 03-31, 03-30, (03-29 has
        // none), 03-28, 03-27, (03-26 none), 03-25, 03-24, (03-23 none),
        // 03-22, ... The newest of a day with two is the 15:00 one.
        //   daily 7:   03-31 15h, 03-30, 03-28 15h, 03-27, 03-25, 03-24, 03-22
        //   weekly 4:  W14 (03-30..04-05) → 03-31 15h; W13 (03-23..29) →
        //              03-28 15h; W12 (03-16..22) → 03-22; W11 (03-09..15) → 03-15
        //   monthly 3: March → 03-31 15h; February → 02-28 (d = 31);
        //              January → 01-30 (01-31 is d = 59, a day without one)
        assert_eq!(
            kept(&ds),
            [
                "03-31 15", "03-30 03", "03-28 15", "03-27 03", "03-25 03", "03-24 03", "03-22 03",
                "03-15 03", "02-28 03", "01-30 03"
            ]
        );
        let reasons = |when: &str| {
            ds.iter()
                .find(|d| d.candidate.time.format("%m-%d %H").to_string() == when)
                .unwrap()
                .reasons
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            reasons("03-31 15"),
            ["daily 2026-03-31", "weekly 2026-W14", "monthly 2026-03"]
        );
        assert_eq!(reasons("03-28 15"), ["daily 2026-03-28", "weekly 2026-W13"]);
        assert_eq!(reasons("03-22 03"), ["daily 2026-03-22", "weekly 2026-W12"]);
        assert_eq!(reasons("03-15 03"), ["weekly 2026-W11"]);
        assert_eq!(reasons("01-30 03"), ["monthly 2026-01"]);
        assert!(reasons("03-31 03").is_empty(), "not the newest of its day");
    }

    #[test]
    fn keep_last_and_within_count_from_the_newest_of_the_kind() {
        let set = ninety_days();
        let ds = decide(
            &set,
            &Policies::uniform(Policy {
                keep_last: 3,
                ..Policy::default()
            }),
        );
        assert_eq!(kept(&ds), ["03-31 15", "03-31 03", "03-30 03"]);
        assert_eq!(ds[2].reasons, [KeepReason::Last { n: 3 }]);

        // Within 3 days of the newest (03-31 15:00): strictly after 03-28 15:00.
        let ds = decide(
            &set,
            &Policies::uniform(Policy {
                keep_within: Some(Within::parse("3d").unwrap()),
                ..Policy::default()
            }),
        );
        assert_eq!(kept(&ds), ["03-31 15", "03-31 03", "03-30 03"]);
        // Backups stopped a month ago: the newest still anchors the window.
        let old: Vec<Candidate> = set
            .iter()
            .filter(|c| c.time < at(2026, 2, 1, 0))
            .cloned()
            .collect();
        let ds = decide(
            &old,
            &Policies::uniform(Policy {
                keep_within: Some(Within::parse("1w").unwrap()),
                ..Policy::default()
            }),
        );
        assert_eq!(kept(&ds).len(), 5, "{:?}", kept(&ds));
    }

    #[test]
    fn kinds_are_decided_separately_with_their_own_policies() {
        let set = vec![
            cand(at(2026, 3, 1, 0), "full"),
            cand(at(2026, 3, 2, 0), "full"),
            cand(at(2026, 3, 3, 0), "pre-upgrade"),
            cand(at(2026, 2, 3, 0), "pre-upgrade"),
            cand(at(2026, 1, 3, 0), "pre-upgrade"),
            cand(at(2026, 3, 4, 0), "safety"),
            cand(at(2026, 3, 5, 0), "legacy-kind"),
        ];
        let mut policies = Policies::default();
        policies.per_kind.insert(
            "pre-upgrade".into(),
            Policy {
                keep_monthly: 2,
                ..Policy::default()
            },
        );
        let ds = decide(&set, &policies);
        assert_eq!(
            kept(&ds),
            ["03-05 00", "03-04 00", "03-03 00", "03-02 00", "02-03 00"]
        );
    }

    #[test]
    fn the_last_backup_is_never_removed() {
        // No policy removes the newest of a kind (each keeps it), but the
        // guarantee does not depend on that.
        let set = vec![cand(at(2026, 3, 1, 0), "full")];
        let ds = decide(&set, &Policies::uniform(Policy::default()));
        assert_eq!(ds[0].reasons, [KeepReason::OnlyBackup]);
        assert!(decide(&[], &Policies::default()).is_empty());
    }

    #[test]
    fn ties_in_time_keep_the_later_name() {
        let t = at(2026, 3, 1, 0);
        let a = Candidate {
            name: "ign_scripts_db_backup_20260301_000000.json".into(),
            kind: "full".into(),
            time: t,
        };
        let b = Candidate {
            name: "ign_scripts_db_backup_20260301_000000_1.json".into(),
            ..a.clone()
        };
        let ds = decide(&[a, b.clone()], &Policies::default());
        assert_eq!(ds[0].candidate, b);
        assert!(ds[0].keep() && !ds[1].keep());
    }

    #[test]
    fn weeks_are_iso_weeks_across_a_year_end() {
        // 2026-01-01 is a Thursday: it belongs to 2026-W01, which starts on
        // Monday 2025-12-29; Sunday 2025-12-28 is in 2025-W52.
        let set = vec![
            cand(at(2026, 1, 1, 0), "full"),
            cand(at(2025, 12, 29, 0), "full"),
            cand(at(2025, 12, 28, 0), "full"),
        ];
        let ds = decide(
            &set,
            &Policies::uniform(Policy {
                keep_weekly: 5,
                ..Policy::default()
            }),
        );
        assert_eq!(kept(&ds), ["01-01 00", "12-28 00"]);
        assert_eq!(
            ds[2].reasons,
            [KeepReason::Weekly {
                period: "2025-W52".into()
            }]
        );
    }

    #[test]
    fn durations_parse_and_refuse_with_the_fix() {
        assert_eq!(Within::parse("7d").unwrap().span(), TimeDelta::days(7));
        assert_eq!(Within::parse("12h").unwrap().span(), TimeDelta::hours(12));
        assert_eq!(Within::parse("2w").unwrap().span(), TimeDelta::days(14));
        assert_eq!(
            Within::parse("1w3d12h").unwrap().span(),
            TimeDelta::hours(10 * 24 + 12)
        );
        for (bad, says) in [
            ("", "empty"),
            ("7", "no unit"),
            ("d", "number must come before"),
            ("3m", "months and years"),
            ("5s", "unknown unit"),
            ("0d", "zero"),
            ("99999999999999w", "too long"),
        ] {
            let e = Within::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}

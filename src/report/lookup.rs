//! The lookups that decide a report's scope (which agents, from which day), answered from
//! the days' agent summaries (`summary`) rather than from rows: each reads a few kilobytes
//! per day, so a report's set-up costs the same on a lake of any age.

use std::collections::{BTreeMap, BTreeSet};

use crate::summary::{AgentDay, DaySummary, Snapshots};

/// The audit's agent in the days around its local day.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct AuditAgent {
    /// The ARNs that had the username in those days.
    pub arns: BTreeSet<String>,
    /// The earliest of the ARNs' latest days with a status change before the local day's
    /// start: where the status in force at midnight began. `None`: look further back.
    pub since: Option<String>,
}

/// The audit's lookup over the days around the local day: the agent's ARNs by name, and the
/// day of its last status change before `before_us`. Events are matched by ARN, not name: a
/// LOGIN without a snapshot has none.
pub(crate) fn audit_agent(
    days: &[(String, DaySummary)],
    username: &str,
    before_us: i64,
) -> AuditAgent {
    let arns: BTreeSet<String> = days
        .iter()
        .flat_map(|(_, s)| &s.agents)
        .filter(|a| a.usernames.iter().any(|u| u == username))
        .map(|a| a.arn.clone())
        .collect();
    let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
    for (dt, s) in days {
        for a in s.agents.iter().filter(|a| arns.contains(&a.arn)) {
            if a.first_change_us.is_some_and(|t| t < before_us) {
                let day = latest.entry(&a.arn).or_insert(dt);
                *day = (*day).max(dt.as_str());
            }
        }
    }
    let since = latest.values().min().map(|d| d.to_string());
    AuditAgent { arns, since }
}

/// On an earlier day: the ARNs of the agent (by name, or one of `arns`) with a status change
/// that day. Empty: go back another day.
pub(crate) fn audit_earlier(
    day: &DaySummary,
    username: &str,
    arns: &BTreeSet<String>,
) -> Vec<String> {
    day.agents
        .iter()
        .filter(|a| a.first_change_us.is_some())
        .filter(|a| arns.contains(&a.arn) || a.usernames.iter().any(|u| u == username))
        .map(|a| a.arn.clone())
        .collect()
}

/// An ARN's day in a summary (agents are sorted by ARN).
pub(crate) fn agent_day<'a>(day: &'a DaySummary, arn: &str) -> Option<&'a AgentDay> {
    day.agents
        .binary_search_by(|a| a.arn.as_str().cmp(arn))
        .ok()
        .map(|i| &day.agents[i])
}

/// Whether an ARN's events in `days` (the audit's scope to its last needed day, in order)
/// include one that takes its identity from a later day (spec/reports.md section 0): a LOGIN
/// without a snapshot after the ARN's last one, or an event without one and no snapshot
/// before it in those days. Version-1 summaries do not say: they count as waiting, and the
/// audit reads on, as it always did.
pub(crate) fn identity_waits(days: &[(String, DaySummary)], arn: &str) -> bool {
    let (mut waits, mut seen) = (false, false);
    for (_, day) in days {
        let Some(a) = agent_day(day, arn) else {
            continue;
        };
        waits = match a.snapshots {
            None | Some(Snapshots::LoginWaits) => true,
            Some(Snapshots::Settled) => false,
            // Every event of the day is bare: a LOGIN takes the next snapshot, the others the
            // last one before, when there is one.
            Some(Snapshots::None) => waits || !seen || a.logins.iter().any(|l| !l.is_logout()),
        };
        seen |= a.has_snapshot();
    }
    waits
}

/// An agent of the Login/Logout report, from the days around its range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionAgent {
    /// The latest of those days on which it logged out before the range: its state there is
    /// known (no session open). `None`: search further back.
    pub closed: Option<String>,
    /// Its last LOGIN or LOGOUT before the range's end is a LOGIN: a session is open there.
    pub open_at_end: bool,
}

/// The Login/Logout report's lookup over the days from shortly before the window to its end:
/// every agent with a LOGIN or LOGOUT in `[from_us, to_us)`.
pub(crate) fn sessions_agents(
    days: &[(String, DaySummary)],
    from_us: i64,
    to_us: i64,
) -> BTreeMap<String, SessionAgent> {
    // Per agent: its last LOGIN/LOGOUT before the end (time, is a LOGIN) and its closed day.
    let mut latest: BTreeMap<&str, ((i64, bool), Option<&str>)> = BTreeMap::new();
    for (dt, s) in days {
        for a in &s.agents {
            for login in a.logins.iter().filter(|l| l.at() < to_us) {
                let last = (login.at(), !login.is_logout());
                let entry = latest.entry(&a.arn).or_insert((last, None));
                // Days and a day's events come in order: on a tie the later one (by event id,
                // as in the views) wins.
                if login.at() >= entry.0.0 {
                    entry.0 = last;
                }
                if login.is_logout() && login.at() < from_us {
                    entry.1 = Some(entry.1.map_or(dt.as_str(), |d| d.max(dt.as_str())));
                }
            }
        }
    }
    latest
        .into_iter()
        .filter(|(_, ((last, _), _))| *last >= from_us)
        .map(|(arn, ((_, login), closed))| {
            (
                arn.to_string(),
                SessionAgent {
                    closed: closed.map(str::to_string),
                    open_at_end: login,
                },
            )
        })
        .collect()
}

/// How far after the range the Login/Logout report reads an agent: to the first later day
/// with a snapshot (a LOGIN without one takes its identity from the agent's next; the range's
/// last day suffices when its summary says no such LOGIN waits there), and, when a
/// session is open at the range's end, to the day of the LOGOUT that ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Until {
    open: bool,
    snapshot: Option<String>,
    logout: Option<String>,
}

impl Until {
    pub fn new(open_at_end: bool) -> Until {
        Until {
            open: open_at_end,
            snapshot: None,
            logout: None,
        }
    }

    /// Takes in the agents of day `dt`: the range's last day `to_dt` or a later one, in order.
    pub fn see_day(
        until: &mut BTreeMap<String, Until>,
        dt: &str,
        day: &DaySummary,
        to_us: i64,
        to_dt: &str,
    ) {
        for a in &day.agents {
            let Some(u) = until.get_mut(&a.arn) else {
                continue;
            };
            // A later day with a snapshot resolves a LOGIN without one; so does the range's
            // last day itself when its summary says no such LOGIN comes after its last one.
            let resolves = if dt > to_dt {
                a.has_snapshot()
            } else {
                a.snapshots == Some(Snapshots::Settled)
            };
            if u.snapshot.is_none() && resolves {
                u.snapshot = Some(dt.to_string());
            }
            if u.open
                && u.logout.is_none()
                && a.logins.iter().any(|l| l.is_logout() && l.at() >= to_us)
            {
                u.logout = Some(dt.to_string());
            }
        }
    }

    pub fn done(&self) -> bool {
        self.snapshot.is_some() && (!self.open || self.logout.is_some())
    }

    /// The last day to read; `None`: every day to the end of the lake.
    pub fn last_day(&self) -> Option<String> {
        if !self.done() {
            return None;
        }
        self.snapshot.clone().max(self.logout.clone())
    }
}

/// The agents that logged out on a day.
pub(crate) fn logged_out(day: &DaySummary) -> BTreeSet<&str> {
    day.agents
        .iter()
        .filter(|a| a.logins.iter().any(|l| l.is_logout()))
        .map(|a| a.arn.as_str())
        .collect()
}

/// Every username of some days.
pub(crate) fn usernames(days: &[(String, DaySummary)]) -> BTreeSet<String> {
    days.iter()
        .flat_map(|(_, s)| &s.agents)
        .flat_map(|a| a.usernames.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{AgentDay, Login};

    fn agent(arn: &str, names: &[&str], first: Option<i64>, logins: &[(i64, bool)]) -> AgentDay {
        AgentDay {
            arn: arn.into(),
            usernames: names.iter().map(|n| n.to_string()).collect(),
            first_change_us: first,
            logins: logins.iter().map(|&(t, l)| Login(t, l)).collect(),
            snapshots: None,
        }
    }

    fn day(dt: &str, agents: Vec<AgentDay>) -> (String, DaySummary) {
        (dt.into(), DaySummary { version: 1, agents })
    }

    #[test]
    fn the_audit_finds_the_agent_by_name_and_its_last_change_before_midnight() {
        let days = vec![
            day(
                "d1",
                vec![
                    agent("a1", &["ann"], Some(5), &[]),
                    agent("b", &["bo"], Some(1), &[]),
                ],
            ),
            // a1 changes status on d2 before midnight (t < 100); a2 is ann too, renamed
            // mid-day, and changed nothing before midnight.
            day(
                "d2",
                vec![
                    agent("a1", &["ann"], Some(50), &[]),
                    agent("a2", &["ann", "ann2"], Some(150), &[]),
                ],
            ),
            // Only HEART_BEATs on d3 for a1: no change.
            day("d3", vec![agent("a1", &[], None, &[])]),
        ];
        let found = audit_agent(&days, "ann", 100);
        assert_eq!(found.arns, BTreeSet::from(["a1".into(), "a2".into()]));
        assert_eq!(found.since.as_deref(), Some("d2"));
        // Nothing before midnight: the search goes back.
        assert_eq!(audit_agent(&days, "ann", 4).since, None);
        assert!(audit_agent(&days, "nobody", 100).arns.is_empty());
        // Earlier days match by name or by an ARN already known, with a change that day.
        let earlier = day(
            "d0",
            vec![
                agent("a1", &[], Some(1), &[]),
                agent("a3", &["ann"], None, &[]),
            ],
        )
        .1;
        assert_eq!(
            audit_earlier(&earlier, "ann", &found.arns),
            vec!["a1".to_string()]
        );
        assert!(audit_earlier(&earlier, "ann", &BTreeSet::new()).is_empty());
    }

    #[test]
    fn the_audit_reads_past_its_day_only_while_a_bare_event_waits_for_a_later_snapshot() {
        let with = |arn: &str, snapshots, logins: &[(i64, bool)]| AgentDay {
            snapshots: Some(snapshots),
            ..agent(arn, &[], Some(1), logins)
        };
        let settled = day("d1", vec![with("a", Snapshots::Settled, &[])]);
        let waits = day("d2", vec![with("a", Snapshots::LoginWaits, &[(5, true)])]);
        let bare_logout = day("d2", vec![with("a", Snapshots::None, &[(5, false)])]);
        let bare_login = day("d2", vec![with("a", Snapshots::None, &[(5, true)])]);
        let other = day("d2", vec![with("b", Snapshots::LoginWaits, &[(5, true)])]);
        assert!(!identity_waits(std::slice::from_ref(&settled), "a"));
        assert!(identity_waits(&[settled.clone(), waits.clone()], "a"));
        // Only the ARN's last day with events decides, and another ARN's days do not count.
        assert!(!identity_waits(&[waits.clone(), settled.clone()], "a"));
        assert!(!identity_waits(&[settled.clone(), other.clone()], "a"));
        // A bare LOGOUT takes the snapshot before it; a bare LOGIN the one after; with no
        // snapshot before, any bare event takes the one after.
        assert!(!identity_waits(
            &[settled.clone(), bare_logout.clone()],
            "a"
        ));
        assert!(identity_waits(&[settled.clone(), bare_login], "a"));
        assert!(identity_waits(std::slice::from_ref(&bare_logout), "a"));
        assert!(identity_waits(&[waits, bare_logout], "a"));
        // A version-1 summary does not say: read on.
        assert!(identity_waits(
            &[day("d1", vec![agent("a", &["ann"], Some(1), &[])])],
            "a"
        ));
        assert!(!identity_waits(&[], "a"));
    }

    #[test]
    fn the_login_logout_lookup_keeps_agents_active_in_the_window_with_their_last_logout_before() {
        let days = vec![
            day(
                "d1",
                vec![agent("a", &[], Some(1), &[(1, true), (5, false)])],
            ),
            day(
                "d2",
                vec![
                    agent("a", &[], Some(20), &[(20, true), (30, false), (120, true)]),
                    // b logged in before the window and out in it: no LOGOUT before.
                    agent("b", &[], Some(40), &[(40, true), (110, false)]),
                    // c only before the window: not in the report.
                    agent("c", &[], Some(10), &[(10, true), (15, false)]),
                    // e only after the window's end.
                    agent("e", &[], Some(300), &[(300, true)]),
                ],
            ),
        ];
        let found = sessions_agents(&days, 100, 200);
        let agent = |closed: Option<&str>, open_at_end| SessionAgent {
            closed: closed.map(str::to_string),
            open_at_end,
        };
        assert_eq!(
            found,
            BTreeMap::from([
                ("a".to_string(), agent(Some("d2"), true)),
                ("b".to_string(), agent(None, false)),
            ])
        );
        assert_eq!(logged_out(&days[1].1), BTreeSet::from(["a", "b", "c"]));
    }

    #[test]
    fn an_agent_is_read_to_its_next_snapshot_day_and_the_logout_of_a_session_open_at_the_end() {
        let mut until = BTreeMap::from([
            ("open".to_string(), Until::new(true)),
            ("closed".to_string(), Until::new(false)),
        ]);
        // The range ends at t = 200 on d2.
        let d2 = day(
            "d2",
            vec![
                agent("open", &["o"], Some(150), &[(150, true)]),
                agent("closed", &["c"], Some(120), &[]),
            ],
        );
        Until::see_day(&mut until, "d2", &d2.1, 200, "d2");
        // Snapshots on the range's last day do not count: they may be before the LOGIN.
        assert!(!until["open"].done() && !until["closed"].done());
        let d3 = day(
            "d3",
            vec![
                agent("open", &["o"], Some(300), &[]),
                agent("closed", &[], None, &[]),
            ],
        );
        Until::see_day(&mut until, "d3", &d3.1, 200, "d2");
        assert_eq!(until["open"].last_day(), None);
        assert!(
            !until["closed"].done(),
            "only HEART_BEATs without a name on d3"
        );
        let d4 = day(
            "d4",
            vec![
                agent("open", &[], Some(400), &[(400, false)]),
                agent("closed", &["c"], None, &[]),
            ],
        );
        Until::see_day(&mut until, "d4", &d4.1, 200, "d2");
        assert_eq!(until["open"].last_day().as_deref(), Some("d4"));
        assert_eq!(until["closed"].last_day().as_deref(), Some("d4"));
        // A LOGOUT later on the range's last day ends the open session there.
        let mut same_day = BTreeMap::from([("open".to_string(), Until::new(true))]);
        let d2b = day(
            "d2",
            vec![agent(
                "open",
                &["o"],
                Some(150),
                &[(150, true), (250, false)],
            )],
        );
        Until::see_day(&mut same_day, "d2", &d2b.1, 200, "d2");
        Until::see_day(&mut same_day, "d3", &d3.1, 200, "d2");
        assert_eq!(same_day["open"].last_day().as_deref(), Some("d3"));
        // A range's last day whose summary says no LOGIN waits for a later snapshot ends the
        // read there; one where a LOGIN waits does not.
        let settled = |s| {
            let mut until = BTreeMap::from([("a".to_string(), Until::new(false))]);
            let d2 = day(
                "d2",
                vec![AgentDay {
                    snapshots: Some(s),
                    ..agent("a", &["ann"], Some(150), &[(150, true), (160, false)])
                }],
            );
            Until::see_day(&mut until, "d2", &d2.1, 200, "d2");
            until["a"].last_day()
        };
        assert_eq!(settled(Snapshots::Settled).as_deref(), Some("d2"));
        assert_eq!(settled(Snapshots::LoginWaits), None);
    }
}

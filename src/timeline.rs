//! Reports as pictures: one agent's local day (the audit) and the team's day or range
//! (`status-time --format svg`) as SVG timelines, bands coloured by kind of status, hour ticks
//! in the local zone, a legend. Builds the SVG text only; `output` and the CLI decide where it
//! goes.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::report::Window;

/// One interval of the audit.
#[derive(Debug, Clone)]
pub struct Slice {
    pub status: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The kinds a status is coloured by.
const KINDS: [(&str, &str); 6] = [
    ("Available", "#2e9d5b"),
    ("On contact", "#2f6fd6"),
    ("After contact work", "#8a5cc7"),
    ("Missed / error", "#d64541"),
    ("Custom status", "#e8a33d"),
    ("Offline", "#9aa0a6"),
];

fn kind_of(status: &str) -> usize {
    match status {
        "Available" => 0,
        "Busy" | "Connected" | "On Hold" | "Paused" | "Calling Customer" | "Connecting"
        | "Connecting Agent" => 1,
        "After Contact Work" => 2,
        "Error" | "Telecom issue" | "Agent Disconnected" | "Contact Missed" | "Rejected"
        | "Missed Call Agent" => 3,
        "Offline" => 5,
        _ => 4,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Draws `slices` (already clipped to `day`) as an SVG document.
pub fn svg(agent: &str, date: chrono::NaiveDate, tz: Tz, day: Window, slices: &[Slice]) -> String {
    const W: f64 = 1200.0;
    const LEFT: f64 = 40.0;
    const RIGHT: f64 = 40.0;
    const BAND_Y: f64 = 60.0;
    const BAND_H: f64 = 50.0;
    let span = (day.to - day.from).num_milliseconds().max(1) as f64;
    let x = |t: DateTime<Utc>| {
        LEFT + (W - LEFT - RIGHT) * ((t - day.from).num_milliseconds() as f64 / span)
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="190" viewBox="0 0 {W} 190" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{LEFT}" y="30" font-size="16" font-weight="bold">{} — {date} ({tz}, {} h)</text>
<rect x="{LEFT}" y="{BAND_Y}" width="{}" height="{BAND_H}" fill="#f1f3f4" stroke="#dadce0"/>
"##,
        escape(agent),
        (day.to - day.from).num_hours(),
        W - LEFT - RIGHT
    );
    for s in slices {
        let (x0, x1) = (x(s.start), x(s.end));
        let _ = writeln!(
            out,
            r#"<rect x="{x0:.2}" y="{BAND_Y}" width="{:.2}" height="{BAND_H}" fill="{}"><title>{} {} – {}</title></rect>"#,
            (x1 - x0).max(0.5),
            KINDS[kind_of(&s.status)].1,
            escape(&s.status),
            s.start.with_timezone(&tz).format("%H:%M:%S"),
            s.end.with_timezone(&tz).format("%H:%M:%S"),
        );
    }
    // Hour ticks at each local hour: a 23- or 25-hour day gets 23 or 25 of them.
    let mut t = day.from;
    while t <= day.to {
        let xt = x(t);
        let _ = writeln!(
            out,
            r##"<line x1="{xt:.2}" y1="{}" x2="{xt:.2}" y2="{}" stroke="#5f6368"/><text x="{xt:.2}" y="{}" text-anchor="middle" fill="#3c4043">{}</text>"##,
            BAND_Y + BAND_H,
            BAND_Y + BAND_H + 6.0,
            BAND_Y + BAND_H + 20.0,
            t.with_timezone(&tz).format("%H"),
        );
        t += Duration::hours(1);
    }
    for (i, (name, colour)) in KINDS.iter().enumerate() {
        let lx = LEFT + i as f64 * 185.0;
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="160" width="14" height="14" fill="{colour}"/><text x="{}" y="172">{name}</text>"#,
            lx + 20.0
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Layout of the team picture, public so a test can find an instant's pixel.
pub mod team {
    pub const WIDTH: f64 = 1400.0;
    /// Where the time axis starts (agent names are left of it).
    pub const LEFT: f64 = 170.0;
    pub const RIGHT: f64 = 30.0;
    /// Top of the first agent's row.
    pub const TOP: f64 = 70.0;
    /// The height of all rows together at most; rows shrink to fit, down to `MIN_ROW`.
    pub const ROWS_HEIGHT: f64 = 900.0;
    pub const MAX_ROW: f64 = 26.0;
    pub const MIN_ROW: f64 = 4.0;

    /// The height of one agent's row for `agents` rows.
    pub fn row_height(agents: usize) -> f64 {
        (ROWS_HEIGHT / agents.max(1) as f64).clamp(MIN_ROW, MAX_ROW)
    }
}

/// The x of instant `t` in a team picture of `window`.
pub fn team_x(window: Window, t: DateTime<Utc>) -> f64 {
    let span = (window.to - window.from).num_milliseconds().max(1) as f64;
    team::LEFT
        + (team::WIDTH - team::LEFT - team::RIGHT)
            * ((t - window.from).num_milliseconds() as f64 / span)
}

/// Draws the team's status intervals over `window`: one row per agent (names on the left,
/// rows shrinking to fit up to a few hundred agents while names stay legible: below 9 px rows
/// only every few names is written), time across in `tz` with hour ticks (every few hours on
/// longer ranges), each interval a rectangle in its kind's colour with a `<title>` giving the
/// status and its local times, and a legend.
pub fn team_svg(tz: Tz, window: Window, rows: &[(String, Vec<Slice>)]) -> String {
    use team::*;
    let row = row_height(rows.len());
    let band = (row * 0.8).max(MIN_ROW - 1.0);
    let bottom = TOP + row * rows.len() as f64;
    let height = bottom + 80.0;
    // Names: at 11 px when rows are tall enough, else one name every few rows.
    let font = (row * 0.75).clamp(9.0, 12.0);
    let every = ((font + 1.0) / row).ceil().max(1.0) as usize;
    let hours = (window.to - window.from).num_hours().max(1);
    let tick_hours = match hours {
        0..=30 => 1,
        31..=72 => 3,
        73..=240 => 12,
        _ => 24,
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{LEFT}" y="28" font-size="16" font-weight="bold">Team status — {} to {} ({tz}), {} agents</text>
"##,
        window.from.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
        window.to.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
        rows.len()
    );
    for (i, (agent, slices)) in rows.iter().enumerate() {
        let y = TOP + row * i as f64;
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{y:.2}" width="{:.2}" height="{band:.2}" fill="#f1f3f4"/>"##,
            WIDTH - LEFT - RIGHT
        );
        if i % every == 0 {
            let _ = writeln!(
                out,
                r##"<text x="{:.2}" y="{:.2}" text-anchor="end" font-size="{font:.1}" fill="#202124">{}</text>"##,
                LEFT - 6.0,
                y + band / 2.0 + font * 0.35,
                escape(agent)
            );
        }
        for s in slices {
            let (x0, x1) = (team_x(window, s.start), team_x(window, s.end));
            let _ = writeln!(
                out,
                r#"<rect x="{x0:.2}" y="{y:.2}" width="{:.2}" height="{band:.2}" fill="{}"><title>{}: {} {} – {}</title></rect>"#,
                (x1 - x0).max(0.5),
                KINDS[kind_of(&s.status)].1,
                escape(agent),
                escape(&s.status),
                s.start.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S"),
                s.end.with_timezone(&tz).format("%H:%M:%S"),
            );
        }
    }
    // Ticks at local hours (a 23- or 25-hour day gets 23 or 25 of them).
    let mut t = window.from;
    let mut k = 0i64;
    while t <= window.to {
        let local = t.with_timezone(&tz);
        if k % tick_hours == 0 {
            let xt = team_x(window, t);
            let label = if tick_hours >= 12 {
                local.format("%d %H").to_string()
            } else {
                local.format("%H").to_string()
            };
            let _ = writeln!(
                out,
                r##"<line x1="{xt:.2}" y1="{:.2}" x2="{xt:.2}" y2="{:.2}" stroke="#dadce0"/><text x="{xt:.2}" y="{:.2}" text-anchor="middle" fill="#3c4043">{label}</text>"##,
                TOP - 4.0,
                bottom + 4.0,
                bottom + 18.0,
            );
        }
        t += Duration::hours(1);
        k += 1;
    }
    for (i, (name, colour)) in KINDS.iter().enumerate() {
        let lx = LEFT + i as f64 * 185.0;
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{:.2}" width="14" height="14" fill="{colour}"/><text x="{}" y="{:.2}">{name}</text>"#,
            bottom + 40.0,
            lx + 20.0,
            bottom + 52.0
        );
    }
    out.push_str("</svg>\n");
    out
}

/// The colour an audit status is drawn in.
pub fn colour_of(status: &str) -> &'static str {
    KINDS[kind_of(status)].1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fall_back_day_has_25_hour_ticks_and_coloured_slices() {
        let tz = chrono_tz::America::New_York;
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let day = crate::report::local_day(date, tz);
        let slices = vec![
            Slice {
                status: "Available".into(),
                start: day.from,
                end: day.from + Duration::hours(10),
            },
            Slice {
                status: "Lunch & <Break>".into(),
                start: day.from + Duration::hours(10),
                end: day.to,
            },
        ];
        let text = svg("jdoe", date, tz, day, &slices);
        assert_eq!(
            text.matches("<line ").count(),
            26,
            "25 hours have 26 boundaries"
        );
        assert!(text.contains("fill=\"#2e9d5b\""));
        assert!(text.contains("Lunch &amp; &lt;Break&gt;"));
        assert!(text.contains("(America/New_York, 25 h)"));
    }

    #[test]
    fn the_team_picture_stays_legible_for_200_agents() {
        let tz = chrono_tz::UTC;
        let day =
            crate::report::local_day(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(), tz);
        let rows: Vec<(String, Vec<Slice>)> = (0..200)
            .map(|i| {
                let start = day.from + Duration::minutes(i * 3);
                (
                    format!("agent.{i:03}"),
                    vec![Slice {
                        status: "Busy".into(),
                        start,
                        end: start + Duration::hours(8),
                    }],
                )
            })
            .collect();
        let text = team_svg(tz, day, &rows);
        assert_eq!(text.matches("<title>").count(), 200);
        // Rows shrink to fit the picture; names keep a legible size and are not crowded.
        assert!(team::row_height(200) >= team::MIN_ROW);
        let names = text.matches("text-anchor=\"end\"").count();
        assert!((50..=200).contains(&names), "{names} names");
        assert!(!text.contains("font-size=\"8"), "no name below 9 px");
        assert!(text.contains("font-size=\"9.0\""));
        assert_eq!(text.matches("<line ").count(), 25);
    }
}

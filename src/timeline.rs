//! The audit as a picture: one agent's local day as an SVG timeline, a band coloured by kind
//! of status, hour ticks in the local zone, a legend. Builds the SVG text only; `output` and
//! the CLI decide where it goes.

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
}

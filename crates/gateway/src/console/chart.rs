//! The daily summary's bar chart, drawn on the server as SVG: no script, readable without one.

use maud::{html, Markup};

/// One bar: its label and value (won).
pub struct Bar {
    pub label: String,
    pub value: i64,
}

const WIDTH: i64 = 360;
const BAR_HEIGHT: i64 = 26;
const GAP: i64 = 10;
const LABEL_WIDTH: i64 = 90;
const VALUE_WIDTH: i64 = 110;

/// Horizontal bars (they fit a phone's width with Korean labels), scaled to the largest value.
pub fn bars(title: &str, bars: &[Bar]) -> Markup {
    let height = (bars.len() as i64).max(1) * (BAR_HEIGHT + GAP) + GAP;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let room = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    html! {
        svg class="chart" role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg"
            viewBox={"0 0 " (WIDTH) " " (height)} width="100%" {
            title { (title) }
            @if bars.is_empty() {
                text x="0" y="24" font-size="14" fill="#666" { "해당 날짜의 결제가 없습니다 (no payments)" }
            }
            @for (i, bar) in bars.iter().enumerate() {
                @let y = GAP + i as i64 * (BAR_HEIGHT + GAP);
                @let length = (bar.value.max(0) * room / max).max(if bar.value > 0 { 2 } else { 0 });
                text x="0" y=(y + 18) font-size="13" fill="#333" { (bar.label) }
                rect x=(LABEL_WIDTH) y=(y) width=(length) height=(BAR_HEIGHT) rx="4" fill="#1f6feb" {}
                text x=(LABEL_WIDTH + length + 6) y=(y + 18) font-size="13" fill="#333" {
                    (super::views::won(bar.value))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_labels() {
        let svg = bars(
            "t",
            &[
                Bar {
                    label: "CARD".into(),
                    value: 10_000,
                },
                Bar {
                    label: "<b>".into(),
                    value: 5_000,
                },
            ],
        )
        .into_string();
        assert!(svg.contains(r#"width="160""#), "{svg}");
        assert!(svg.contains(r#"width="80""#), "{svg}");
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("10,000원"));
    }
}

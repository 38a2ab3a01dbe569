//! Bar charts as inline SVG: axes, labels and units, one `rect` per value, scaled by the viewBox.

use std::fmt::Write;

use super::text::{data_number, escape};

const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 40.0;

/// One stacked layer of bars: a value (or none) per category.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: &'static str,
    /// CSS class that colours it.
    pub class: &'static str,
    pub values: Vec<Option<f64>>,
}

/// A category on the x axis: its full name (tooltips, `data-x`) and the label under the axis.
#[derive(Debug, Clone)]
pub struct Category {
    pub key: String,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct BarChart {
    pub id: &'static str,
    pub title: &'static str,
    pub x_title: &'static str,
    pub y_title: &'static str,
    pub categories: Vec<Category>,
    pub series: Vec<Series>,
    /// Values are shares (0 to 1), shown as percentages.
    pub percent: bool,
}

impl BarChart {
    pub fn render(&self) -> String {
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let (top, step) = self.y_scale();
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg class="chart" id="{id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">"#,
            id = self.id,
            title = escape(self.title)
        );
        let y = |v: f64| TOP + plot_h - v / top * plot_h;
        let mut tick = 0.0;
        while tick <= top + step / 2.0 {
            let _ = write!(
                svg,
                r#"<line class="grid" x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
                x2 = WIDTH - RIGHT,
                yy = y(tick),
                tx = LEFT - 4.0,
                ty = y(tick) + 4.0,
                label = self.tick_label(tick, step),
            );
            tick += step;
        }
        let n = self.categories.len().max(1);
        let slot = plot_w / n as f64;
        let bar_w = (slot * 0.8).max(0.5);
        let every = n.div_ceil(10).max(1);
        for (i, category) in self.categories.iter().enumerate() {
            let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
            let mut base = 0.0;
            for series in &self.series {
                let Some(value) = series.values.get(i).copied().flatten() else {
                    continue;
                };
                if value <= 0.0 {
                    continue;
                }
                let _ = write!(
                    svg,
                    r#"<rect class="bar {class}" x="{x:.2}" y="{ry:.2}" width="{bar_w:.2}" height="{h:.2}" data-x="{key}" data-series="{name}" data-value="{v}"><title>{key}: {shown} {name}</title></rect>"#,
                    class = series.class,
                    ry = y(base + value),
                    h = y(base) - y(base + value),
                    key = escape(&category.key),
                    name = series.name,
                    v = data_number(value),
                    shown = self.value_label(value),
                );
                base += value;
            }
            if i.is_multiple_of(every) {
                let _ = write!(
                    svg,
                    r#"<text class="tick" x="{cx:.1}" y="{ty}" text-anchor="middle">{label}</text>"#,
                    cx = LEFT + slot * (i as f64 + 0.5),
                    ty = TOP + plot_h + 14.0,
                    label = escape(&category.label),
                );
            }
        }
        let _ = write!(
            svg,
            r#"<line class="axis" x1="{LEFT}" x2="{x2}" y1="{yb}" y2="{yb}"/><text class="axis-title" x="{cx}" y="{xt}" text-anchor="middle">{x_title}</text><text class="axis-title" transform="translate(12 {cy}) rotate(-90)" text-anchor="middle">{y_title}</text></svg>"#,
            x2 = WIDTH - RIGHT,
            yb = TOP + plot_h,
            cx = LEFT + plot_w / 2.0,
            xt = HEIGHT - 6.0,
            cy = TOP + plot_h / 2.0,
            x_title = escape(self.x_title),
            y_title = escape(self.y_title),
        );
        svg
    }

    /// The top of the y axis and the step between ticks: round numbers, at most 5 steps.
    fn y_scale(&self) -> (f64, f64) {
        if self.percent {
            return (1.0, 0.25);
        }
        let highest = (0..self.categories.len())
            .map(|i| {
                self.series
                    .iter()
                    .filter_map(|s| s.values.get(i).copied().flatten())
                    .filter(|v| *v > 0.0)
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        let step = nice_step(highest / 4.0);
        (((highest / step).ceil()).max(1.0) * step, step)
    }

    fn tick_label(&self, tick: f64, step: f64) -> String {
        if self.percent {
            format!("{:.0} %", tick * 100.0)
        } else if step < 1.0 {
            format!("{tick:.1}")
        } else {
            format!("{tick:.0}")
        }
    }

    fn value_label(&self, value: f64) -> String {
        if self.percent {
            format!("{:.1} %", value * 100.0)
        } else {
            format!("{value:.0}")
        }
    }
}

/// The smallest of 1, 2 or 5 times a power of ten that is at least `raw` (and at least 1).
fn nice_step(raw: f64) -> f64 {
    if raw <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: Vec<Option<f64>>, percent: bool) -> BarChart {
        BarChart {
            id: "test",
            title: "Test <chart>",
            x_title: "day (UTC)",
            y_title: "knocks",
            categories: (0..values.len())
                .map(|i| Category {
                    key: format!("<k{i}>"),
                    label: format!("{i}"),
                })
                .collect(),
            series: vec![Series {
                name: "admitted",
                class: "admitted",
                values,
            }],
            percent,
        }
    }

    #[test]
    fn each_positive_value_is_one_bar_with_its_number_and_a_tooltip() {
        let svg = chart(vec![Some(3.0), None, Some(0.0), Some(7.0)], false).render();
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert!(svg.contains(r#"data-x="&lt;k3&gt;" data-series="admitted" data-value="7""#));
        assert!(svg.contains("<title>&lt;k0&gt;: 3 admitted</title>"));
        assert!(svg.contains(r#"aria-label="Test &lt;chart&gt;""#));
        assert!(svg.contains(">day (UTC)</text>") && svg.contains(">knocks</text>"));
        assert!(!svg.contains("<k"), "unescaped text in {svg}");
    }

    #[test]
    fn stacked_bars_sit_on_each_other_and_never_leave_the_plot() {
        let mut c = chart(vec![Some(4.0)], false);
        c.series.push(Series {
            name: "abandoned",
            class: "abandoned",
            values: vec![Some(6.0)],
        });
        let svg = c.render();
        let ys: Vec<f64> = svg
            .split("<rect")
            .skip(1)
            .map(|r| {
                let y = r.split(r#" y=""#).nth(1).unwrap();
                y[..y.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(ys.len(), 2);
        assert!(ys[1] < ys[0] && ys[1] >= TOP, "{ys:?}");
    }

    #[test]
    fn axes_use_round_ticks_and_percentages_for_shares() {
        assert_eq!(nice_step(0.3), 1.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(26.0), 50.0);
        assert_eq!(nice_step(180.0), 200.0);
        let svg = chart(vec![Some(0.5)], true).render();
        assert!(svg.contains(">100 %</text>") && svg.contains("50.0 % admitted"));
        let svg = chart(vec![Some(9.0)], false).render();
        assert!(svg.contains(">10</text>"), "{svg}");
    }
}

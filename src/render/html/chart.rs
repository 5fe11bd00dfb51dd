//! Charts for the HTML reports, drawn with `plotters` into inline SVG.
//!
//! Why `plotters` and its SVG backend: a well-kept crate that does axes, ticks, legends and
//! scaling for us, and whose SVG backend writes text as `<text>` elements: with its font
//! features off (no `ttf`, no `ab_glyph`) it needs no font file and no system library, and the
//! browser sets the text in its own sans-serif. The page stays one file with no script at all.
//!
//! Log scales are drawn as a linear axis over log10 of the values, with labels formatted
//! back: one code path for both, and decade ticks that read as "1 ms", "10 ms".
//! Colours are Okabe–Ito's, distinguishable with the common colour-vision deficiencies and
//! in greyscale print together with the line widths.

use plotters::prelude::*;
use plotters::style::RGBColor;

pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const SKY: RGBColor = RGBColor(86, 180, 233);
pub const YELLOW: RGBColor = RGBColor(240, 228, 66);
pub const INK: RGBColor = RGBColor(0, 0, 0);
/// In order of use for series without a fixed meaning (errors by kind, processes).
pub const PALETTE: [RGBColor; 8] = [BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, YELLOW, INK];

const WIDTH: u32 = 960;
const HEIGHT: u32 = 250;
/// The same for every time chart, so that their plot areas and time axes line up.
const Y_AREA: u32 = 84;
const X_AREA: u32 = 36;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log,
}

pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub width: u32,
    /// (x, y); `None` breaks the line.
    pub points: Vec<(f64, Option<f64>)>,
}

/// Vertical marks on a time chart (e.g. reconnects), with their legend label.
pub struct Marks {
    pub label: String,
    pub color: RGBColor,
    pub at: Vec<f64>,
}

pub struct Axis<'a> {
    pub desc: &'a str,
    pub scale: Scale,
    pub format: &'a dyn Fn(f64) -> String,
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// `1:05`, `1:00:00`: time since the start on the shared axis.
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A tick on the time axis: seconds with a decimal on a short run (whose ticks fall between
/// whole seconds), the clock otherwise.
fn time_label(secs: f64, span: f64) -> String {
    if span <= 20.0 {
        format!("{secs:.1} s")
    } else {
        clock(secs)
    }
}

fn y_value(scale: Scale, v: f64) -> Option<f64> {
    match scale {
        Scale::Linear => Some(v),
        Scale::Log => (v > 0.0).then(|| v.log10()),
    }
}

/// The y range that holds `values` (already on the axis's scale): whole decades for a log
/// axis, from 0 for a linear one.
fn y_range(scale: Scale, values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    match scale {
        _ if lo > hi => (0.0, 1.0),
        Scale::Linear => (0.0, if hi > 0.0 { hi * 1.1 } else { 1.0 }),
        Scale::Log => {
            let (l, h) = (lo.floor(), hi.ceil());
            (l, if h > l { h } else { l + 1.0 })
        }
    }
}

/// One inline `<svg>`: no XML namespace (HTML does not need it, and the file then names no
/// address at all), labelled for screen readers.
fn finish(svg: String, title: &str) -> String {
    let label = super::escape(title);
    svg.replacen(
        " xmlns=\"http://www.w3.org/2000/svg\"",
        &format!(" role=\"img\" aria-label=\"{label}\" class=\"chart\""),
        1,
    )
}

fn or_note(drawn: Drawn, svg: String, title: &str) -> String {
    match drawn {
        Ok(()) => finish(svg, title),
        Err(e) => format!(
            "<p class=\"note\">{}: the chart could not be drawn ({})</p>",
            super::escape(title),
            super::escape(&e.to_string())
        ),
    }
}

/// Lines over the run's time (0..`span` seconds), on the axis every time chart shares.
pub fn time_lines(
    title: &str,
    span: f64,
    y: &Axis,
    lines: &[Line],
    marks: Option<&Marks>,
) -> String {
    let mut svg = String::new();
    let drawn = draw_time_lines(&mut svg, title, span, y, lines, marks);
    or_note(drawn, svg, title)
}

fn draw_time_lines(
    svg: &mut String,
    title: &str,
    span: f64,
    y: &Axis,
    lines: &[Line],
    marks: Option<&Marks>,
) -> Drawn {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let values = lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| p.1))
        .filter_map(|v| y_value(y.scale, v));
    let (lo, hi) = y_range(y.scale, values);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 17))
        .margin(8)
        .margin_right(28)
        .x_label_area_size(X_AREA)
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(0f64..span.max(1.0), lo..hi)?;
    let unscale = |v: f64| match y.scale {
        Scale::Linear => v,
        Scale::Log => 10f64.powf(v),
    };
    chart
        .configure_mesh()
        .x_desc("time since start")
        .y_desc(y.desc)
        .x_label_formatter(&|x| time_label(*x, span))
        .y_label_formatter(&|v| (y.format)(unscale(*v)))
        .y_labels(if y.scale == Scale::Log {
            (hi - lo) as usize + 1
        } else {
            6
        })
        .light_line_style(RGBColor(236, 236, 236))
        .draw()?;
    if let Some(m) = marks.filter(|m| !m.at.is_empty()) {
        let c = m.color;
        chart
            .draw_series(
                m.at.iter().map(|&t| {
                    PathElement::new(vec![(t, lo), (t, hi)], c.mix(0.45).stroke_width(1))
                }),
            )?
            .label(m.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y - 6), (x, y + 6)], c.stroke_width(2))
            });
    }
    for line in lines {
        let (c, w) = (line.color, line.width);
        let mut labelled = false;
        for run in runs(&line.points, y.scale) {
            // A lone point (a heartbeat every few seconds) is no line: it gets a dot.
            let dot = (run.len() == 1).then(|| Circle::new(run[0], 3, c.filled()));
            chart.draw_series(dot)?;
            let anno = chart.draw_series(LineSeries::new(run, c.stroke_width(w)))?;
            if !labelled {
                anno.label(line.label.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(w.max(2)))
                });
                labelled = true;
            }
        }
    }
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn legend<'a>(chart: &mut Chart<'a, 'a>) -> Drawn {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string().into())
}

/// The stretches of a line without gaps, on the axis's scale.
fn runs(points: &[(f64, Option<f64>)], scale: Scale) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new()];
    for &(x, v) in points {
        match v.and_then(|v| y_value(scale, v)) {
            Some(v) => out.last_mut().map_or((), |r| r.push((x, v))),
            None if out.last().is_some_and(|r| !r.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Counts stacked by kind over time, one bar per `width` seconds.
pub fn stacked(
    title: &str,
    span: f64,
    width: f64,
    y_desc: &str,
    kinds: &[(String, Vec<(f64, u64)>)],
) -> String {
    let mut svg = String::new();
    let drawn = draw_stacked(&mut svg, title, span, width, y_desc, kinds);
    or_note(drawn, svg, title)
}

fn draw_stacked(
    svg: &mut String,
    title: &str,
    span: f64,
    width: f64,
    y_desc: &str,
    kinds: &[(String, Vec<(f64, u64)>)],
) -> Drawn {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut totals: std::collections::BTreeMap<u64, u64> = Default::default();
    for (_, pts) in kinds {
        for &(t, n) in pts {
            *totals.entry(t.to_bits()).or_default() += n;
        }
    }
    let top = totals.values().copied().max().unwrap_or(0).max(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 17))
        .margin(8)
        .margin_right(28)
        .x_label_area_size(X_AREA)
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(0f64..span.max(1.0), 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("time since start")
        .y_desc(y_desc)
        .x_label_formatter(&|x| time_label(*x, span))
        // Whole counts only: a small maximum would otherwise print "1" at 0.8 and 1.0.
        .y_label_formatter(&|v| {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        })
        .light_line_style(RGBColor(236, 236, 236))
        .draw()?;
    let mut base: std::collections::BTreeMap<u64, f64> = Default::default();
    for (i, (kind, pts)) in kinds.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let bars: Vec<_> = pts
            .iter()
            .filter(|p| p.1 > 0)
            .map(|&(t, n)| {
                let b = base.entry(t.to_bits()).or_default();
                let r = Rectangle::new([(t, *b), (t + width, *b + n as f64)], c.filled());
                *b += n as f64;
                r
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(kind.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
    if !kinds.is_empty() {
        legend(&mut chart)?;
    }
    root.present()?;
    Ok(())
}

/// `90%`, `99.9%`: the percentile at `x` on a spectrum axis (x = log10(1/(1-q))).
pub fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let digits = (x.round() as i64 - 2).clamp(0, 6) as usize;
    format!("{p:.digits$}%")
}

/// The percentile spectrum, like HdrHistogram's plots: x is 1/(1-q) on a log scale, so the
/// tail (99%, 99.9%, …) gets as much room as the body. `spectrum` is (q, seconds).
pub fn spectrum(title: &str, what: &str, spectrum: &[(f64, f64)], count: u64) -> String {
    let mut svg = String::new();
    let drawn = draw_spectrum(&mut svg, title, what, spectrum, count);
    or_note(drawn, svg, title)
}

fn draw_spectrum(
    svg: &mut String,
    title: &str,
    what: &str,
    spectrum: &[(f64, f64)],
    count: u64,
) -> Drawn {
    let root = SVGBackend::with_string(svg, (WIDTH, 300)).into_drawing_area();
    root.fill(&WHITE)?;
    // The last sample stands at 1 - 1/count: 100% itself is infinitely far to the right.
    let x_max = (count.max(10) as f64).log10().ceil().min(7.0);
    let points: Vec<(f64, f64)> = spectrum
        .iter()
        .map(|&(q, v)| {
            let x = if q >= 1.0 {
                x_max
            } else {
                (1.0 / (1.0 - q)).log10().min(x_max)
            };
            (x, v * 1e3)
        })
        .collect();
    let top = points.iter().map(|p| p.1).fold(0.0, f64::max).max(0.001) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 17))
        .margin(8)
        .margin_right(28)
        .x_label_area_size(X_AREA)
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(0f64..x_max, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_labels(x_max as usize + 1)
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|v| format!("{v:.3}"))
        .light_line_style(RGBColor(236, 236, 236))
        .draw()?;
    chart
        .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))?
        .label(what)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_people_write_them() {
        assert_eq!(clock(65.0), "1:05");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(time_label(1.5, 3.0), "1.5 s");
        assert_eq!(time_label(90.0, 600.0), "1:30");
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(4.0), "99.99%");
    }

    #[test]
    fn gaps_break_lines_and_log_scales_skip_zero() {
        let pts = [
            (0.0, Some(1.0)),
            (1.0, None),
            (2.0, Some(0.0)),
            (3.0, Some(10.0)),
        ];
        assert_eq!(runs(&pts, Scale::Linear).len(), 2);
        let log = runs(&pts, Scale::Log);
        assert_eq!(log, [vec![(0.0, 0.0)], vec![(3.0, 1.0)]]);
        assert_eq!(y_range(Scale::Log, [-3.2, -1.5].into_iter()), (-4.0, -1.0));
    }

    #[test]
    fn a_chart_is_inline_svg_with_its_text_and_no_address() {
        let line = Line {
            label: "p99".into(),
            color: BLUE,
            width: 2,
            points: vec![(0.0, Some(0.001)), (1.0, Some(0.01))],
        };
        let fmt = |v: f64| format!("{v}");
        let axis = Axis {
            desc: "latency",
            scale: Scale::Log,
            format: &fmt,
        };
        let svg = time_lines("Latency <echo>", 2.0, &axis, &[line], None);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("aria-label=\"Latency &lt;echo&gt;\""), "{svg}");
        assert!(
            svg.contains("\np99\n") && svg.contains("time since start"),
            "{svg}"
        );
        assert!(!svg.contains("http"), "{svg}");
    }
}

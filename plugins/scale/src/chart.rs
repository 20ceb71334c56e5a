//! The replica timeline drawn two ways: compact ASCII rows for the terminal, and an SVG file
//! (plotters) with the load and each policy's replicas. Both keep peaks when they downsample.

use std::path::Path;

use aml_core::Error;
use aml_core::cli::Table;
use plotters::prelude::*;

/// One line of the chart: a name and its values, each the peak of `per_value` seconds.
pub(crate) struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<f64>,
    /// Seconds each value stands for: 1 for a per-second series, more once [`Peaks`] cut it.
    pub per_value: usize,
    /// Seconds the series covers.
    pub seconds: usize,
}

impl<'a> Series<'a> {
    /// A value per second.
    pub(crate) fn per_second(name: &'a str, values: Vec<f64>) -> Self {
        Self {
            name,
            seconds: values.len(),
            values,
            per_value: 1,
        }
    }
}

/// The per-slice peaks of a series fed one second at a time, in memory bounded by the slices:
/// what [`ascii`] (`most` = its width) or [`svg`] (`most` = [`SVG_POINTS`]) would have kept of
/// the whole series.
pub(crate) struct Peaks {
    per_slice: usize,
    seconds: usize,
    values: Vec<f64>,
}

impl Peaks {
    /// For a series of `seconds` seconds cut into at most `most` slices.
    pub(crate) fn new(seconds: u64, most: usize) -> Self {
        let seconds = usize::try_from(seconds).unwrap_or(usize::MAX);
        Self {
            per_slice: seconds_per_slice(seconds, most),
            seconds,
            values: Vec::new(),
        }
    }

    /// The value at `second`.
    pub(crate) fn push(&mut self, second: u64, value: f64) {
        let slice = usize::try_from(second).unwrap_or(usize::MAX) / self.per_slice;
        if slice >= self.values.len() {
            self.values.resize(slice + 1, 0.0);
        }
        self.values[slice] = self.values[slice].max(value);
    }

    /// The series named `name`.
    pub(crate) fn series<'a>(&self, name: &'a str) -> Series<'a> {
        Series {
            name,
            values: self.values.clone(),
            per_value: self.per_slice,
            seconds: self.seconds,
        }
    }
}

/// Most points of a line in the SVG chart.
pub(crate) const SVG_POINTS: usize = 1500;

/// Seconds per slice when `seconds` are cut into at most `buckets` equal slices.
fn seconds_per_slice(seconds: usize, buckets: usize) -> usize {
    seconds.div_ceil(buckets.max(1)).max(1)
}

/// The highest value in each slice of `values` (see [`seconds_per_slice`]).
fn peaks(values: &[f64], buckets: usize) -> Vec<f64> {
    values
        .chunks(seconds_per_slice(values.len(), buckets))
        .map(|chunk| chunk.iter().copied().fold(0.0, f64::max))
        .collect()
}

/// At most `most` (second, value) points of a series whose values stand for `per_value` seconds
/// each, each point a slice's peak at the slice's first second.
fn points(values: &[f64], per_value: usize, most: usize) -> Vec<(f64, f64)> {
    let per_point = seconds_per_slice(values.len(), most) * per_value;
    peaks(values, most)
        .into_iter()
        .enumerate()
        .map(|(j, v)| ((j * per_point) as f64, v))
        .collect()
}

/// Levels of the ASCII chart, from nothing to the scale's top.
const LEVELS: &[u8] = b" .:-=+*#%@";

/// A row per series, `width` columns over the whole run, all on one scale.
pub(crate) fn ascii(series: &[Series<'_>], width: usize) -> Table {
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0);
    let (values, per_value, seconds) = series
        .first()
        .map_or((0, 1, 0), |s| (s.values.len(), s.per_value, s.seconds));
    let per_column = seconds_per_slice(values, width) * per_value;
    let header = format!("REPLICAS OVER {seconds} S ({per_column} S A COLUMN; `@` = {top:.0})");
    let mut table = Table::new(["SERIES", header.as_str()]);
    for s in series {
        let row: String = peaks(&s.values, width)
            .iter()
            .map(|v| {
                let level = ((v / top) * (LEVELS.len() - 1) as f64).round() as usize;
                // Anything above zero shows, so a single replica is never invisible.
                let level = if *v > 0.0 { level.max(1) } else { 0 };
                LEVELS[level.min(LEVELS.len() - 1)] as char
            })
            .collect();
        table.row([s.name.to_string(), format!("|{row}|")]);
    }
    table
}

/// Draws the series into an SVG file: the first (the load) thin and grey, the rest coloured, the
/// second (azureml-fe's policy) drawn last so it stays visible where lines overlap.
pub(crate) fn svg(path: &Path, title: &str, series: &[Series<'_>]) -> Result<(), Error> {
    let failed = |e: String| Error::File {
        action: "draw the chart into",
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    let seconds = series.first().map_or(0, |s| s.seconds).max(1);
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let root = SVGBackend::new(path, (1100, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..seconds as f64, 0.0..top)
        .map_err(|e| failed(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("replicas")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|e| failed(e.to_string()))?;
    let colours = [
        RGBColor(150, 150, 150),
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
    ];
    let mut order: Vec<usize> = (0..series.len()).collect();
    if order.len() > 2 {
        let ours = order.remove(1);
        order.push(ours);
    }
    for i in order {
        let s = &series[i];
        let colour = colours[i % colours.len()];
        let line = points(&s.values, s.per_value, SVG_POINTS);
        let style = colour.stroke_width(if i == 0 { 1 } else { 2 });
        chart
            .draw_series(LineSeries::new(line, style))
            .map_err(|e| failed(e.to_string()))?
            .label(s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| failed(e.to_string()))?;
    root.present().map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampling_keeps_peaks() {
        assert_eq!(peaks(&[1.0, 5.0, 2.0, 0.0, 3.0, 1.0], 3), [5.0, 2.0, 3.0]);
        assert_eq!(peaks(&[1.0, 2.0], 10), [1.0, 2.0]);
    }

    #[test]
    fn plotted_points_sit_at_their_seconds() {
        // A step at 300 s in a 1501 s run, drawn with at most 1500 points (two seconds a point).
        let values: Vec<f64> = (0..1501)
            .map(|s| if s >= 300 { 8.0 } else { 2.0 })
            .collect();
        let line = points(&values, 1, 1500);
        assert!(line.len() <= 1500);
        let first_high = line.iter().find(|(_, v)| *v == 8.0).unwrap().0;
        assert!(
            (298.0..=300.0).contains(&first_high),
            "the step is drawn at {first_high}"
        );
        assert!(line.last().unwrap().0 >= 1498.0, "the line reaches the end");
    }

    #[test]
    fn ascii_rows_share_one_scale() {
        let series = [
            Series::per_second("need", vec![0.0, 1.0, 9.0, 9.0]),
            Series::per_second("ours", vec![1.0, 1.0, 4.5, 9.0]),
        ];
        let text = ascii(&series, 4).to_string();
        assert!(text.contains("need     | .@@|"), "{text}");
        assert!(text.contains("ours     |..+@|"), "{text}");
    }
}

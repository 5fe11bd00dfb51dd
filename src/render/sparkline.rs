//! One-line charts for the terminal: a value a character, drawn with the eight block
//! elements. Hand-written because it is this small; `ratatui` would bring a second way of
//! owning the terminal into a view that needs no layout.

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` values, oldest on the left, right-aligned; scaled from 0 to the highest;
/// `None` (nothing measured) is a blank.
pub fn sparkline(values: &[Option<f64>], width: usize) -> String {
    let shown = &values[values.len().saturating_sub(width)..];
    let top = shown.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    let mut out = " ".repeat(width - shown.len());
    for v in shown {
        out.push(match v {
            None => ' ',
            Some(_) if top <= 0.0 => BARS[0],
            Some(v) => {
                let i = (v.max(0.0) / top * (BARS.len() - 1) as f64).round() as usize;
                BARS[i.min(BARS.len() - 1)]
            }
        });
    }
    out
}

/// `line` cut to `width` visible characters; ANSI colour sequences are kept whole and do not
/// count, and a cut line ends with a reset so no colour leaks into the next.
pub fn fit(line: &str, width: usize) -> String {
    let mut out = String::with_capacity(line.len());
    let mut visible = 0;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            out.push(c);
            for e in chars.by_ref() {
                out.push(e);
                if e.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        if visible == width {
            if out.contains('\x1b') {
                out.push_str("\x1b[0m");
            }
            return out;
        }
        out.push(c);
        visible += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_to_the_highest_and_keeps_the_newest() {
        let v: Vec<Option<f64>> = [0.0, 1.0, 2.0, 4.0, 8.0].map(Some).to_vec();
        assert_eq!(sparkline(&v, 5), "▁▂▃▅█");
        assert_eq!(sparkline(&v, 2), "▅█");
        assert_eq!(sparkline(&v[..2], 4), "  ▁█");
        assert_eq!(sparkline(&[Some(0.0), None, Some(0.0)], 3), "▁ ▁");
        assert_eq!(sparkline(&[], 3), "   ");
    }

    #[test]
    fn fits_visible_characters_and_keeps_colours_whole() {
        assert_eq!(fit("abcdef", 3), "abc");
        assert_eq!(fit("ab", 3), "ab");
        assert_eq!(fit("\x1b[31mabcdef\x1b[0m", 2), "\x1b[31mab\x1b[0m");
        assert_eq!(fit("▁▂▃▄", 2), "▁▂");
    }
}

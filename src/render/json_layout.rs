//! Pretty JSON for long reports: indented near the top, where people read, and one line per
//! item deeper down, where the data is. A day's soak timeline then takes one line a second
//! instead of twenty, and the file a third of the size.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::io::{self, Write};

/// Containers nested this deep or deeper are written on one line (the report is depth 0, its
/// `timeline` 1, `points` 2, each point 3).
const FLAT_FROM: usize = 3;

struct Layout {
    pretty: PrettyFormatter<'static>,
    compact: CompactFormatter,
    /// Containers open now.
    depth: usize,
}

// `Formatter` has generic methods, so no `dyn`: each method picks by the container's depth.
macro_rules! delegate {
    ($self:ident, $f:expr, $method:ident, $w:ident $(, $arg:expr)*) => {
        if $f < FLAT_FROM {
            $self.pretty.$method($w $(, $arg)*)
        } else {
            $self.compact.$method($w $(, $arg)*)
        }
    };
}

impl Formatter for Layout {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let d = self.depth;
        self.depth += 1;
        delegate!(self, d, begin_array, w)
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        let d = self.depth;
        delegate!(self, d, end_array, w)
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        let d = self.depth - 1;
        delegate!(self, d, begin_array_value, w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let d = self.depth - 1;
        delegate!(self, d, end_array_value, w)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let d = self.depth;
        self.depth += 1;
        delegate!(self, d, begin_object, w)
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        let d = self.depth;
        delegate!(self, d, end_object, w)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        let d = self.depth - 1;
        delegate!(self, d, begin_object_key, w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let d = self.depth - 1;
        delegate!(self, d, begin_object_value, w)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let d = self.depth - 1;
        delegate!(self, d, end_object_value, w)
    }
}

/// `value` as JSON: indented to depth 2, one line per item below.
pub fn to_string<T: Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let layout = Layout {
        pretty: PrettyFormatter::new(),
        compact: CompactFormatter,
        depth: 0,
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut out, layout);
    value.serialize(&mut ser)?;
    // serde_json writes only UTF-8.
    Ok(String::from_utf8(out).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indented_at_the_top_one_line_per_item_below() {
        let v = json!({"a": 1, "timeline": {"points": [{"t": 0, "rss": [1, null]}, {"t": 1, "rss": []}]}});
        let text = to_string(&v).unwrap();
        assert_eq!(
            text,
            "{\n  \"a\": 1,\n  \"timeline\": {\n    \"points\": [\n      {\"t\":0,\"rss\":[1,null]},\n      {\"t\":1,\"rss\":[]}\n    ]\n  }\n}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        assert_eq!(to_string(&json!([])).unwrap(), "[]");
    }
}

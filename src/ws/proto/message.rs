//! The two kinds of data message.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    Text,
    Binary,
}

/// How a message travelled: compressed (permessage-deflate) or not, and its bytes on the wire,
/// frame headers included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wire {
    pub compressed: bool,
    pub len: u64,
}

impl DataKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DataKind::Text => "text",
            DataKind::Binary => "binary",
        }
    }
}

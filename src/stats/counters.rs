//! Counts by key (error kinds, close codes): a sorted map, so reports list them in a stable
//! order, and mergeable, so reports from several runs add up.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Counts(BTreeMap<String, u64>);

impl Counts {
    pub fn add(&mut self, key: &str, n: u64) {
        match self.0.get_mut(key) {
            Some(v) => *v += n,
            None => {
                self.0.insert(key.to_string(), n);
            }
        }
    }

    pub fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub fn merge(&mut self, other: &Counts) {
        for (k, v) in other.iter() {
            self.add(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_merges_and_sorts() {
        let mut a = Counts::default();
        a.add("refused", 2);
        a.add("dns", 1);
        let mut b = Counts::default();
        b.add("refused", 3);
        a.merge(&b);
        assert_eq!(a.get("refused"), 5);
        assert_eq!(a.get("tls"), 0);
        assert_eq!(a.total(), 6);
        assert_eq!(
            a.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["dns", "refused"]
        );
    }
}

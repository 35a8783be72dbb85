//! Labels and selectors: `KEY=VALUE`, a node is selected when its labels include every pair
//! of the selector (an empty selector selects every node).

use std::collections::BTreeMap;

use crate::error::{FleetError, Result};

/// Parses `KEY=VALUE` (the form of `--label` and `--selector`).
pub fn parse_label(text: &str) -> Result<(String, String)> {
    let bad = || FleetError::BadLabel {
        text: text.to_owned(),
    };
    let (k, v) = text.split_once('=').ok_or_else(bad)?;
    let ok = |s: &str, empty_ok: bool| {
        (empty_ok || !s.is_empty())
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    };
    if ok(k, false) && ok(v, true) {
        Ok((k.to_owned(), v.to_owned()))
    } else {
        Err(bad())
    }
}

/// Parses every `KEY=VALUE` of a command line into a map (a key given twice keeps the last).
pub fn parse_labels(texts: &[String]) -> Result<BTreeMap<String, String>> {
    texts.iter().map(|t| parse_label(t)).collect()
}

/// Whether `labels` include every pair of `selector`.
pub fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `{k=v, …}`, or `{} (every node)`.
pub fn render(selector: &BTreeMap<String, String>) -> String {
    if selector.is_empty() {
        return "{} (every node)".to_owned();
    }
    let pairs: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selector_matches_nodes_carrying_all_its_labels() {
        let sel = parse_labels(&["role=edge".into()]).unwrap();
        let edge = parse_labels(&["role=edge".into(), "zone=a".into()]).unwrap();
        let core = parse_labels(&["role=core".into()]).unwrap();
        assert!(matches(&sel, &edge));
        assert!(!matches(&sel, &core));
        assert!(matches(&BTreeMap::new(), &core));
        assert_eq!(render(&sel), "{role=edge}");
    }

    #[test]
    fn a_label_without_equals_or_with_odd_characters_is_refused() {
        for bad in ["role", "=x", "a b=c", "k=v w"] {
            let e = parse_label(bad).unwrap_err().to_string();
            assert!(e.contains("write KEY=VALUE"), "{e}");
        }
    }
}

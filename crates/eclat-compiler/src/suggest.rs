//! "Did you mean `X`?": the closest of the names in scope (or in the catalog) to a name that
//! resolves to nothing, by edit distance.
//!
//! A suggestion is given only when one name is close: the same letters in another case
//! (`Hike_Pass`), or at most one edit for a name of 3 or 4 characters, two up to 8, three
//! beyond (none for shorter names: `z` is one edit from any one-letter variable).
//! It does not know what the names are; the checker chooses the candidates (the variables of
//! the chain, the programs of a package, the maps of an owner, ...).

/// The candidate closest to `name`, if one is close enough to be what was meant. Ties go to
/// the first candidate, so callers pass them in a stable order.
pub fn closest<'a, I, S>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + 'a + ?Sized,
{
    // One letter off a one- or two-letter name is any other short name: no suggestion.
    let limit = match name.chars().count() {
        0..=2 => 0,
        3..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let candidate = candidate.as_ref();
        if candidate == name || candidate.is_empty() {
            continue;
        }
        let distance = if candidate.eq_ignore_ascii_case(name) {
            0
        } else {
            edit_distance(name, candidate)
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

/// The help line of a suggestion: "did you mean `X`?".
pub fn did_you_mean(suggestion: &str) -> String {
    format!("did you mean `{suggestion}`?")
}

/// Levenshtein distance with adjacent transpositions (`moniotr` is one edit from `monitor`),
/// over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two back for transpositions.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("monitor", "monitor"), 0);
        assert_eq!(edit_distance("moniter", "monitor"), 1);
        assert_eq!(edit_distance("moniotr", "monitor"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn only_close_names_are_suggested() {
        let names = ["hike_pass", "hike_drop", "monitor"];
        assert_eq!(closest("hike_pas", &names).as_deref(), Some("hike_pass"));
        assert_eq!(closest("hike_dorp", &names).as_deref(), Some("hike_drop"));
        assert_eq!(closest("Monitor", &names).as_deref(), Some("monitor"));
        assert_eq!(closest("meter", &names), None);
        assert_eq!(closest("x", &["y"]), None);
        assert_eq!(closest("X", &["x"]).as_deref(), Some("x"));
        assert_eq!(closest("xpd", &["xdp", "tc"]).as_deref(), Some("xdp"));
        assert_eq!(closest("monitor", &names), None, "itself is no suggestion");
    }
}

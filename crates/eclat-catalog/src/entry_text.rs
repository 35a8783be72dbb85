//! The command line's forms of a map key or value (`eclat map get|set|delete`), read into the
//! JSON form that [`ValueLayout::encode_json_value`] encodes. It is the one place that knows
//! them; the daemon applies it to what a client sends, so every client gets the same forms.
//!
//! Accepted, for a key or value of layout `L`:
//! - JSON, as a dump shows it: `5`, `"fc00::1"`, `{"src":"fc00::1","dst":"fc00::2"}`; a JSON
//!   array is a tuple (below);
//! - a script's tuple: `(1, 100)` or `1, 100` (one item per field of `L`, in order, as in
//!   `OWNER[MAP] = { (0): (1, 100) }`); one item alone needs no parentheses (`0`, `fc00::1`,
//!   `ddos`);
//! - fields by name: `rate=1000,bucket_size=2000` (or `rate=1000 bucket_size=2000`); a value
//!   may name only some fields of a struct (the daemon keeps the others as the map holds them),
//!   a key must name every one.
//!
//! Items are numbers in a script's bases (`1_000`, `0x10`, `0o17`, `0b101`), strings in single
//! or double quotes, or bare words (an address, a chain name), which are strings: whether a
//! string fits its field (an IPv4 or IPv6 address, a chain) is the codec's to say, with the
//! layout in the message.
//!
//! This module only reads text; it does not know the fields' kinds beyond their names and
//! count.

use serde_json::{Map as JsonMap, Number, Value as Json};

use crate::layout::{EncodeError, FieldWrite, ValueLayout};

/// What a piece of command line text was read as.
enum Form {
    /// A whole scalar, or a JSON object.
    Value(Json),
    /// Positional items, as a script's tuple.
    Tuple(Vec<Json>),
    /// Fields by name.
    Named(Vec<(String, Json)>),
}

impl ValueLayout {
    /// Encodes a key or value written in any of the command line's forms (module docs); every
    /// field must be given.
    pub fn encode_text(
        &self,
        map: &str,
        what: &'static str,
        text: &str,
        chain_id: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<Vec<u8>, EncodeError> {
        let json = self.text_to_json(map, what, text)?;
        Ok(self
            .encode_json_value(map, what, &json, text, false, chain_id)?
            .bytes)
    }

    /// Encodes a value written in any of the command line's forms, some fields of a struct
    /// possibly left out (see [`FieldWrite::over`] to write them over what a map holds).
    pub fn encode_text_fields(
        &self,
        map: &str,
        what: &'static str,
        text: &str,
        chain_id: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<FieldWrite, EncodeError> {
        let json = self.text_to_json(map, what, text)?;
        self.encode_json_value(map, what, &json, text, true, chain_id)
    }

    /// `text` in the JSON form of this layout: a tuple becomes an object of the fields in
    /// order (or the one item of a scalar).
    fn text_to_json(&self, map: &str, what: &'static str, text: &str) -> Result<Json, EncodeError> {
        let not_read = |reason: String| EncodeError::Unreadable {
            what,
            text: text.to_owned(),
            reason,
            layout: Box::new(self.c_type.clone()),
        };
        let form = match serde_json::from_str::<Json>(text) {
            Ok(Json::Array(items)) => Form::Tuple(items),
            // A struct written as one item is a tuple of one, as `(0)` is in a script.
            Ok(json) if !self.scalar && !json.is_object() => Form::Tuple(vec![json]),
            Ok(json) => Form::Value(json),
            Err(_) => read_script_form(text).map_err(not_read)?,
        };
        let fields = self.fields.as_deref().unwrap_or_default();
        match form {
            Form::Value(json) => Ok(json),
            Form::Named(pairs) => {
                let mut obj = JsonMap::new();
                for (name, v) in pairs {
                    // A scalar's one field is named after its role (`key`, `value`).
                    if self.scalar && fields.first().is_some_and(|f| f.name == name) {
                        return Ok(v);
                    }
                    obj.insert(name, v);
                }
                Ok(Json::Object(obj))
            }
            Form::Tuple(items) if self.scalar && items.len() == 1 => {
                Ok(items.into_iter().next().expect("one item"))
            }
            Form::Tuple(items)
                if !fields.is_empty() && items.len() == fields.len() && !self.scalar =>
            {
                Ok(Json::Object(
                    fields.iter().map(|f| f.name.clone()).zip(items).collect(),
                ))
            }
            Form::Tuple(items) => Err(EncodeError::Arity {
                map: map.to_owned(),
                what,
                layout: Box::new(self.c_type.clone()),
                expected: fields.len(),
                found: items.len(),
            }),
        }
    }
}

/// Reads the script-like forms: a tuple (with or without parentheses) or `NAME=VALUE` items.
fn read_script_form(text: &str) -> Result<Form, String> {
    let trimmed = text.trim();
    let inner = match trimmed.strip_prefix('(') {
        Some(rest) => rest
            .strip_suffix(')')
            .ok_or_else(|| "a `(` without its `)`".to_owned())?,
        None => trimmed,
    };
    let items = split_items(inner)?;
    if items.is_empty() {
        return Err("nothing is written".into());
    }
    let named: Vec<Option<(&str, &str)>> = items.iter().map(|i| named_item(i)).collect();
    if named.iter().all(Option::is_some) {
        return named
            .into_iter()
            .flatten()
            .map(|(n, v)| Ok((n.to_owned(), item(v)?)))
            .collect::<Result<_, String>>()
            .map(Form::Named);
    }
    if named.iter().any(Option::is_some) {
        return Err("either every item is `FIELD=VALUE` or none is".into());
    }
    items
        .iter()
        .map(|i| item(i))
        .collect::<Result<_, _>>()
        .map(Form::Tuple)
}

/// Items separated by commas (or, when there is no comma, by spaces), quotes respected.
fn split_items(text: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let has_comma = text.contains(',');
    for c in text.chars() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                current.push(c);
            }
            None if c == ',' || (!has_comma && c.is_whitespace()) => {
                items.push(std::mem::take(&mut current));
            }
            None => current.push(c),
        }
    }
    if quote.is_some() {
        return Err("a quote is not closed".into());
    }
    items.push(current);
    let items: Vec<String> = items.into_iter().map(|i| i.trim().to_owned()).collect();
    // `1, 2,` (a trailing comma, as Python allows) and runs of spaces leave empty items.
    let last_empty = items.last().is_some_and(String::is_empty);
    let mut out: Vec<String> = items;
    if last_empty && has_comma {
        out.pop();
    }
    if has_comma && out.iter().any(String::is_empty) {
        return Err("an empty item between commas".into());
    }
    out.retain(|i| !i.is_empty());
    Ok(out)
}

/// `NAME=VALUE` (NAME a field name, possibly dotted: `outer.inner`).
fn named_item(item: &str) -> Option<(&str, &str)> {
    let (name, value) = item.split_once('=')?;
    let name = name.trim();
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    ok.then_some((name, value.trim()))
}

/// One item: a number, a quoted string, or a bare word (a string).
fn item(text: &str) -> Result<Json, String> {
    if text.is_empty() {
        return Err("an empty item".into());
    }
    for q in ['\'', '"'] {
        if let Some(rest) = text.strip_prefix(q) {
            return rest
                .strip_suffix(q)
                .map(|s| Json::String(s.to_owned()))
                .ok_or_else(|| format!("`{text}` has a quote that is not closed"));
        }
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        if let Some(n) = number(text) {
            return Ok(Json::Number(Number::from(n)));
        }
        // `10.0.0.1`, `2001:db8::1`: addresses start with digits too.
    }
    Ok(Json::String(text.to_owned()))
}

/// A script's integer: decimal, `0x`, `0o`, `0b`, `_` between digits.
fn number(text: &str) -> Option<u64> {
    let digits: String = text.chars().filter(|c| *c != '_').collect();
    let (radix, body) = match digits.get(..2) {
        Some("0x" | "0X") => (16, &digits[2..]),
        Some("0o" | "0O") => (8, &digits[2..]),
        Some("0b" | "0B") => (2, &digits[2..]),
        _ => (10, digits.as_str()),
    };
    u64::from_str_radix(body, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(text: &str) -> Vec<Json> {
        match read_script_form(text).unwrap() {
            Form::Tuple(items) => items,
            _ => panic!("{text}: not a tuple"),
        }
    }

    #[test]
    fn tuples_and_items() {
        use serde_json::json;
        assert_eq!(tuple("(1, 0x10)"), [json!(1), json!(16)]);
        assert_eq!(tuple("1,0b11,"), [json!(1), json!(3)]);
        assert_eq!(tuple("1_000 2"), [json!(1000), json!(2)]);
        assert_eq!(tuple("fc00::1"), [json!("fc00::1")]);
        assert_eq!(tuple("10.0.0.1"), [json!("10.0.0.1")]);
        assert_eq!(
            tuple("('fc00::1', \"a, b\")"),
            [json!("fc00::1"), json!("a, b")]
        );
        assert!(matches!(
            read_script_form("rate=1, bucket_size=2").unwrap(),
            Form::Named(p) if p == [("rate".into(), json!(1)), ("bucket_size".into(), json!(2))]
        ));
        for bad in ["(1, 2", "rate=1, 2", "1,,2", "'x", ""] {
            assert!(read_script_form(bad).is_err(), "{bad}");
        }
    }
}

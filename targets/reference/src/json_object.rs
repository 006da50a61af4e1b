//! A JSON object read in place: a token's claims and its JOSE header.
//!
//! A segment is parsed once into a list of where each top-level member sits
//! in the decoded text; a check reads only the members it needs (by an integer
//! compare of the name's length and first bytes, no hashing), and a verified
//! token's `200` body embeds the claims' text as it is. Nothing is copied into
//! a map of values on the way: for a typical access token this costs about
//! half of building a `serde_json::Map` and none of serializing it back.
//!
//! ```
//! use byoid_reference::json_object::{Field, JsonObject};
//!
//! let c = JsonObject::parse(r#"{"iss":"https://idp.test/","exp":1700000000,"aud":["a","b"]}"#.into()).unwrap();
//! assert!(matches!(c.get("iss"), Some(Field::Str(s)) if s == "https://idp.test/"));
//! assert!(matches!(c.get("exp"), Some(Field::Num(n)) if n.as_i64() == Some(1_700_000_000)));
//! assert!(matches!(c.get("aud"), Some(Field::Array(a)) if a.len() == 2));
//! assert!(c.get("sub").is_none());
//! // Duplicate member names are refused, at any depth.
//! assert!(JsonObject::parse(r#"{"sub":"a","sub":"b"}"#.into()).is_err());
//! ```

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// Above this many members, duplicates are found with a hash set rather than
/// by comparing each name with the ones before it (bounded time for hostile
/// tokens with thousands of members).
const LINEAR_DUPLICATE_SCAN: usize = 32;

/// A JSON object: its text and where each member is.
#[derive(Clone)]
pub struct JsonObject {
    text: String,
    members: Vec<Member>,
}

#[derive(Clone)]
struct Member {
    /// The name's length and first 8 bytes: a lookup compares these integers
    /// and calls `memcmp` only for longer names that agree (a check looks up
    /// ~12 names among ~10 members, most of them 3 bytes long).
    tag: (usize, u64),
    key: Key,
    value: Range<usize>,
}

fn tag(name: &str) -> (usize, u64) {
    let mut head = [0u8; 8];
    let n = name.len().min(8);
    head[..n].copy_from_slice(&name.as_bytes()[..n]);
    (name.len(), u64::from_le_bytes(head))
}

#[derive(Clone)]
enum Key {
    /// The name as it appears in the text (no escapes).
    At(Range<usize>),
    /// A name written with escapes, decoded.
    Decoded(String),
}

impl Key {
    /// The member name, given the object's text.
    fn name<'a>(&'a self, text: &'a str) -> &'a str {
        match self {
            Key::At(r) => &text[r.clone()],
            Key::Decoded(k) => k,
        }
    }
}

/// One member's value, as the checks need it.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    /// A JSON string (borrowed unless it had escapes).
    Str(Cow<'a, str>),
    /// A JSON number.
    Num(Number),
    /// A JSON array, parsed on demand.
    Array(Vec<Value>),
    /// `true`, `false`, `null` or an object.
    Other(Value),
}

impl fmt::Debug for JsonObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl JsonObject {
    /// Parses a JSON object strictly: anything but one object, or a member
    /// name twice in any object at any depth, is an error.
    pub fn parse(text: String) -> Result<JsonObject, serde_json::Error> {
        let members = {
            let mut de = serde_json::Deserializer::from_str(&text);
            let members = de::DeserializeSeed::deserialize(MembersSeed { text: &text }, &mut de)?;
            de.end()?;
            members
        };
        Ok(JsonObject { text, members })
    }

    /// The object of a `serde_json::Map` (for objects built in code).
    pub fn from_map(map: &Map<String, Value>) -> JsonObject {
        // A map has unique names and serializes to an object; this cannot fail.
        JsonObject::parse(serde_json::to_string(map).unwrap_or_else(|_| "{}".into()))
            .unwrap_or_else(|_| JsonObject {
                text: "{}".into(),
                members: Vec::new(),
            })
    }

    /// The object's text, exactly as the token carried it.
    pub fn json(&self) -> &str {
        &self.text
    }

    /// The raw JSON text of member `name`.
    pub fn raw(&self, name: &str) -> Option<&str> {
        let want = tag(name);
        self.members
            .iter()
            .find(|m| m.tag == want && (want.0 <= 8 || m.key.name(&self.text) == name))
            .map(|m| &self.text[m.value.clone()])
    }

    /// Whether member `name` is present (whatever its value, `null` included).
    pub fn contains_key(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// Member `name`, read from the text.
    pub fn get(&self, name: &str) -> Option<Field<'_>> {
        let raw = self.raw(name)?;
        // The text was validated as a whole, so each member parses on its own.
        Some(match raw.as_bytes()[0] {
            b'"' => match raw[1..raw.len() - 1].contains('\\') {
                false => Field::Str(Cow::Borrowed(&raw[1..raw.len() - 1])),
                true => Field::Str(Cow::Owned(serde_json::from_str(raw).unwrap_or_default())),
            },
            // In range: checked by `parse`.
            b'-' | b'0'..=b'9' => Field::Num(parse_number(raw).unwrap_or_else(|| 0.into())),
            b'[' => Field::Array(serde_json::from_str(raw).unwrap_or_default()),
            _ => Field::Other(serde_json::from_str(raw).unwrap_or(Value::Null)),
        })
    }

    /// Member `name` as a `serde_json::Value`.
    pub fn value(&self, name: &str) -> Option<Value> {
        serde_json::from_str(self.raw(name)?).ok()
    }

    /// Every member as a `serde_json::Map`, in the token's order.
    pub fn to_map(&self) -> Map<String, Value> {
        self.members
            .iter()
            .map(|m| {
                let v = serde_json::from_str(&self.text[m.value.clone()]).unwrap_or(Value::Null);
                (m.key.name(&self.text).to_owned(), v)
            })
            .collect()
    }
}

/// A JSON number as serde_json reads it: an integer when it fits `i64`/`u64`,
/// else a finite `f64`.
fn parse_number(raw: &str) -> Option<Number> {
    if let Ok(i) = raw.parse::<i64>() {
        return Some(i.into());
    }
    if let Ok(u) = raw.parse::<u64>() {
        return Some(u.into());
    }
    raw.parse::<f64>().ok().and_then(Number::from_f64)
}

/// A member name, borrowed from the text unless it was written with escapes
/// (serde's own `Cow<str>` always allocates).
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Name<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
        Ok(Name(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
        Ok(Name(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Name<'de>, E> {
        Ok(Name(Cow::Owned(v)))
    }
}

/// Checks that `text` is one strict JSON value: a member name twice in any
/// object at any depth, or a number out of `f64`'s range, is an error
/// (serde_json's `Value` silently keeps the last duplicate, which lets two
/// parsers disagree). Nothing is built.
///
/// ```
/// use byoid_reference::json_object::check_strict;
/// assert!(check_strict(r#"[{"b":1},{"b":1}]"#).is_ok());
/// assert!(check_strict(r#"{"a":{"b":1,"b":2}}"#).is_err());
/// ```
pub fn check_strict(text: &str) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    StrictScan::deserialize(&mut de)?;
    de.end()
}

/// Walks a JSON value and keeps nothing: refuses duplicate member names and
/// numbers out of range at any depth without building the value.
struct StrictScan;

impl<'de> Deserialize<'de> for StrictScan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictScan)
    }
}

impl<'de> Visitor<'de> for StrictScan {
    type Value = StrictScan;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self, E> {
        if v.is_finite() {
            Ok(self)
        } else {
            Err(E::custom("non-finite number"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<StrictScan>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut names: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Name(key)) = map.next_key::<Name<'de>>()? {
            if names.contains(&key) {
                return Err(de::Error::custom(format_args!("duplicate member `{key}`")));
            }
            map.next_value::<StrictScan>()?;
            names.push(key);
        }
        Ok(self)
    }
}

/// Reads the top-level members of an object straight into [`Member`]s:
/// offsets into `text` (which the deserializer reads), no intermediate list.
struct MembersSeed<'t> {
    text: &'t str,
}

impl MembersSeed<'_> {
    fn at(&self, s: &str) -> Range<usize> {
        let start = s.as_ptr() as usize - self.text.as_ptr() as usize;
        start..start + s.len()
    }
}

impl<'de> de::DeserializeSeed<'de> for MembersSeed<'de> {
    type Value = Vec<Member>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Member>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MembersSeed<'de> {
    type Value = Vec<Member>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Member>, A::Error> {
        let mut out: Vec<Member> = Vec::with_capacity(16);
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        while let Some(Name(key)) = map.next_key::<Name<'de>>()? {
            let t = tag(&key);
            let duplicate = if out.len() < LINEAR_DUPLICATE_SCAN {
                out.iter()
                    .any(|m| m.tag == t && (t.0 <= 8 || m.key.name(self.text) == key))
            } else {
                if seen.is_empty() {
                    seen.extend(out.iter().map(|m| m.key.name(self.text).to_owned()));
                }
                !seen.insert(key.to_string())
            };
            if duplicate {
                return Err(de::Error::custom(format_args!("duplicate member `{key}`")));
            }
            let raw: &'de RawValue = map.next_value()?;
            let raw = raw.get();
            // Arrays and objects get the full strict walk (duplicate names
            // inside, numbers out of range); strings need nothing more, and a
            // number must fit an f64, as when serde_json builds a value.
            match raw.as_bytes()[0] {
                b'[' | b'{' => check_strict(raw).map_err(de::Error::custom)?,
                b'-' | b'0'..=b'9' if parse_number(raw).is_none() => {
                    return Err(de::Error::custom("number out of range"));
                }
                _ => {}
            }
            let key = match key {
                Cow::Borrowed(k) => Key::At(self.at(k)),
                Cow::Owned(k) => Key::Decoded(k),
            };
            out.push(Member {
                tag: t,
                key,
                value: self.at(raw),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<JsonObject, serde_json::Error> {
        JsonObject::parse(s.to_owned())
    }

    #[test]
    fn reads_each_kind_of_member() {
        let c = parse(
            r#" {"s":"a\"b","plain":"x","i":-3,"u":18446744073709551615,"f":1.5,"e":1e3,
                "a":[1,"x"],"o":{"k":[]},"t":true,"n":null} "#,
        )
        .unwrap();
        assert_eq!(c.get("s"), Some(Field::Str("a\"b".into())));
        assert!(matches!(
            c.get("plain"),
            Some(Field::Str(Cow::Borrowed("x")))
        ));
        assert_eq!(c.get("i"), Some(Field::Num((-3).into())));
        assert_eq!(c.get("u"), Some(Field::Num(u64::MAX.into())));
        assert_eq!(c.get("f"), Some(Field::Num(Number::from_f64(1.5).unwrap())));
        assert_eq!(
            c.get("e"),
            Some(Field::Num(Number::from_f64(1000.0).unwrap()))
        );
        assert_eq!(c.get("a"), Some(Field::Array(vec![1.into(), "x".into()])));
        assert_eq!(c.get("o"), Some(Field::Other(serde_json::json!({"k": []}))));
        assert_eq!(c.get("t"), Some(Field::Other(Value::Bool(true))));
        assert_eq!(c.get("n"), Some(Field::Other(Value::Null)));
        assert!(c.contains_key("n") && !c.contains_key("missing"));
        assert_eq!(c.raw("a"), Some(r#"[1,"x"]"#));
        // Names that share their first 8 bytes, or differ only in length.
        let c = parse(r#"{"client_ix":1,"client_id":2,"client_i":3,"ab":4,"abc":5}"#).unwrap();
        assert_eq!(c.raw("client_id"), Some("2"));
        assert_eq!(c.raw("client_i"), Some("3"));
        assert_eq!(c.raw("abc"), Some("5"));
        assert_eq!(c.raw("client_iy"), None);
    }

    #[test]
    fn agrees_with_serde_json_on_every_member() {
        let text = r#"{"iss":"https://i/","exp":1700000000,"aud":["a"],"x\u0041":"y","big":1e300}"#;
        let c = parse(text).unwrap();
        let want: Map<String, Value> = serde_json::from_str(text).unwrap();
        assert_eq!(c.to_map(), want);
        assert_eq!(
            c.value("xA"),
            Some(Value::String("y".into())),
            "escaped names are decoded"
        );
        assert_eq!(JsonObject::from_map(&want).to_map(), want);
    }

    #[test]
    fn refuses_what_is_not_one_strict_object() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"{"a":[{"b":1,"b":2}]}"#,
            r#"{"a":1} x"#,
            r#"[1]"#,
            r#""s""#,
            r#"{"a":1e400}"#,
            "{\"a\":\"\u{0}\"}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(
            parse(r#"{"a":[{"b":1},{"b":1}]}"#).is_ok(),
            "the same name in two objects"
        );
    }

    #[test]
    fn many_members_are_checked_for_duplicates_in_bounded_time() {
        let mut s = String::from("{");
        for i in 0..5000 {
            s.push_str(&format!("\"m{i}\":0,"));
        }
        s.push_str("\"m4999\":1}");
        assert!(parse(&s).is_err());
        s.truncate(s.len() - "\"m4999\":1}".len() - 1);
        s.push('}');
        assert_eq!(parse(&s).unwrap().to_map().len(), 5000);
    }
}

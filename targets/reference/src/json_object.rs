//! A JSON object read in place: a token's claims and its JOSE header.
//!
//! A segment is scanned once, strictly (RFC 8259; no duplicate member names at
//! any depth; numbers finite as an `f64`; `\u` escapes that make Unicode
//! scalar values, RFC 7493 section 2.1), by a small scanner of this module that
//! records where each top-level member sits in the text. A check reads only the
//! members it needs (by an integer compare of the name's length and first
//! bytes, no hashing), and a verified token's `200` body embeds the claims'
//! text as it is. serde_json parses only what a check asks for beyond strings
//! and numbers (arrays, objects, escaped strings), and is the tests' oracle:
//! they compare the scanner with it on thousands of generated documents.
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
    /// The value is a string with escapes (known from the scan, so that a
    /// read of a plain string need not search it for a backslash).
    escaped: bool,
}

/// The [`Member::tag`] of `name`; a loop rather than a copy so that, for a
/// name written in the code, the compiler computes it.
const fn tag(name: &str) -> (usize, u64) {
    tag_of_bytes(name.as_bytes())
}

/// [`tag`] of a name given as bytes.
const fn tag_of_bytes(b: &[u8]) -> (usize, u64) {
    let mut head = 0u64;
    let mut i = 0;
    while i < b.len() && i < 8 {
        head |= (b[i] as u64) << (8 * i);
        i += 1;
    }
    (b.len(), head)
}

/// The tag of the name at `range` of `bytes`, by one 8-byte load when the
/// text goes on that far (it does for all but the last few bytes).
fn tag_at(bytes: &[u8], range: &Range<usize>) -> (usize, u64) {
    let len = range.end - range.start;
    match bytes.get(range.start..range.start + 8) {
        Some(word) => {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            let keep = if len >= 8 {
                !0
            } else {
                (1u64 << (8 * len)) - 1
            };
            (len, u64::from_le_bytes(w) & keep)
        }
        None => tag_of_bytes(&bytes[range.clone()]),
    }
}

impl Member {
    /// Whether this member is called `name`, whose [`tag`] is `want`: the
    /// integer compare decides names of up to 8 bytes on its own.
    fn is_named(&self, want: (usize, u64), name: &str, text: &str) -> bool {
        self.tag == want && (want.0 <= 8 || self.key.name(text) == name)
    }
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
    pub fn parse(text: String) -> Result<JsonObject, JsonError> {
        let members = {
            let mut s = Scanner::new(&text);
            s.whitespace();
            if s.peek() != Some(b'{') {
                return s.fail("expected an object");
            }
            let members = s.object(1)?;
            s.end()?;
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

    fn member(&self, name: &str) -> Option<&Member> {
        let want = tag(name);
        self.members
            .iter()
            .find(|m| m.is_named(want, name, &self.text))
    }

    /// The raw JSON text of member `name`.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.member(name).map(|m| &self.text[m.value.clone()])
    }

    /// Whether member `name` is present (whatever its value, `null` included).
    pub fn contains_key(&self, name: &str) -> bool {
        self.member(name).is_some()
    }

    /// Member `name`, read from the text.
    pub fn get(&self, name: &str) -> Option<Field<'_>> {
        let m = self.member(name)?;
        let raw = &self.text[m.value.clone()];
        // The text was validated as a whole, so each member parses on its own.
        Some(match raw.as_bytes()[0] {
            b'"' if !m.escaped => Field::Str(Cow::Borrowed(&raw[1..raw.len() - 1])),
            b'"' => Field::Str(Cow::Owned(serde_json::from_str(raw).unwrap_or_default())),
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

/// Why a text is not one strict JSON value: what was wrong and the byte
/// offset where it was found.
///
/// ```
/// use byoid_reference::json_object::check_strict;
/// let e = check_strict(r#"{"sub":"a","sub":"b"}"#).unwrap_err();
/// assert_eq!(e.to_string(), "duplicate member `sub` at byte 11");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    message: Cow<'static, str>,
    offset: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for JsonError {}

/// Checks that `text` is one strict JSON value (RFC 8259): a member name twice
/// in any object at any depth, a number out of `f64`'s range, an escape that is
/// not a Unicode scalar value (a lone surrogate, RFC 7493 section 2.1) or
/// nesting deeper than 128 is an error. Nothing is built.
///
/// ```
/// use byoid_reference::json_object::check_strict;
/// assert!(check_strict(r#"[{"b":1},{"b":1}]"#).is_ok());
/// assert!(check_strict(r#"{"a":{"b":1,"b":2}}"#).is_err());
/// ```
pub fn check_strict(text: &str) -> Result<(), JsonError> {
    let mut s = Scanner::new(text);
    s.whitespace();
    s.value(0)?;
    s.end()
}

/// Deepest nesting of arrays and objects accepted (serde_json's limit too):
/// bounds the scanner's recursion for hostile tokens.
const MAX_DEPTH: usize = 128;

/// A strict JSON scanner over text that is already UTF-8. It records where
/// the top-level members are and checks everything else in one pass, with one
/// allocation (the member list) for typical tokens, where driving serde_json's
/// deserializer member by member costs several times more per byte; serde_json
/// is still the oracle of the tests, which compare the two on generated
/// documents.
struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
}

/// How many bytes of `bytes` come before the first `"`, `\\` or control
/// character: eight at a time with the "has a zero byte" bit trick, whose
/// lowest flagged byte is always the first special one (a false flag can only
/// follow a true one), then one by one for the last few bytes of the text.
/// Claims' strings are short but many, so the word-at-a-time step pays.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `v` that is below `n` (`n` <= 0x80), and
    // perhaps of bytes after it.
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGH;
    let mut n = 0;
    while let Some(chunk) = bytes.get(n..n + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let special = below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1)
            | below(x, 0x20);
        if special != 0 {
            return n + (special.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + bytes[n..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - n)
}

impl<'t> Scanner<'t> {
    fn new(text: &'t str) -> Self {
        Scanner {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn fail<T>(&self, message: impl Into<Cow<'static, str>>) -> Result<T, JsonError> {
        Err(JsonError {
            message: message.into(),
            offset: self.at,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn end(&mut self) -> Result<(), JsonError> {
        self.whitespace();
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("trailing characters"),
        }
    }

    fn expect(&mut self, byte: u8, message: &'static str) -> Result<(), JsonError> {
        self.whitespace();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            self.fail(message)
        }
    }

    /// One value at its first byte: true when it is a string with escapes.
    fn value(&mut self, depth: usize) -> Result<bool, JsonError> {
        match self.peek() {
            Some(b'"') => return self.string().map(|(_, escaped)| escaped),
            Some(b'{') => self.object(depth + 1).map(drop),
            Some(b'[') => self.array(depth + 1),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.fail("expected a value"),
            None => self.fail("EOF while parsing a value"),
        }
        .map(|()| false)
    }

    fn literal(&mut self, word: &'static str) -> Result<(), JsonError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            self.fail("expected a value")
        }
    }

    /// A string at its opening quote: the range of its content and whether
    /// it has escapes. Inlined: as a call, its entry and exit were two thirds
    /// of a short string's cost (callgrind, with line tables).
    #[inline(always)]
    fn string(&mut self) -> Result<(Range<usize>, bool), JsonError> {
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at += plain_run(&self.bytes[self.at..]);
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok((start..self.at - 1, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(_) => return self.fail("control character in a string"),
                None => return self.fail("EOF while parsing a string"),
            }
        }
    }

    /// One escape at its backslash; `\u` escapes must make a scalar value.
    fn escape(&mut self) -> Result<(), JsonError> {
        self.at += 1;
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.at += 1;
                Ok(())
            }
            Some(b'u') => match self.hex4()? {
                0xD800..=0xDBFF => {
                    if self.bytes.get(self.at..self.at + 2) != Some(b"\\u".as_slice()) {
                        return self.fail("lone leading surrogate in an escape");
                    }
                    self.at += 1;
                    match self.hex4()? {
                        0xDC00..=0xDFFF => Ok(()),
                        _ => self.fail("lone leading surrogate in an escape"),
                    }
                }
                0xDC00..=0xDFFF => self.fail("lone trailing surrogate in an escape"),
                _ => Ok(()),
            },
            _ => self.fail("invalid escape"),
        }
    }

    /// The four hex digits after a `u` (at the `u`).
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.bytes.get(self.at + 1..self.at + 5);
        let value = digits.and_then(|d| {
            d.iter()
                .try_fold(0u32, |n, &b| Some(n << 4 | (b as char).to_digit(16)?))
        });
        match value {
            Some(v) => {
                self.at += 5;
                Ok(v)
            }
            None => self.fail("invalid \\u escape"),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, finite as an `f64`.
    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.fail("invalid number"),
        }
        let integer_digits = self.at - start;
        let mut fraction_or_exponent = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.required_digits()?;
            fraction_or_exponent = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.required_digits()?;
            fraction_or_exponent = true;
        }
        // Up to 18 digits always fit an i64; anything else is read as
        // serde_json would and must be finite.
        if (fraction_or_exponent || integer_digits > 18)
            && parse_number(&self.text[start..self.at]).is_none()
        {
            return self.fail("number out of range");
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'0'..=b'9') => {
                self.digits();
                Ok(())
            }
            _ => self.fail("invalid number"),
        }
    }

    /// Steps over the `[` or `{` of a value at `depth`; true when `close`
    /// follows at once (an empty array or object, also stepped over).
    fn open(&mut self, depth: usize, close: u8) -> Result<bool, JsonError> {
        if depth > MAX_DEPTH {
            return self.fail("recursion limit exceeded");
        }
        self.at += 1;
        self.whitespace();
        let empty = self.peek() == Some(close);
        if empty {
            self.at += 1;
        }
        Ok(empty)
    }

    /// After a member or element: true at `close` (stepped over), false at
    /// `,` (stepped over), an error otherwise.
    fn closes(&mut self, close: u8, message: &'static str) -> Result<bool, JsonError> {
        self.whitespace();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.at += 1;
                Ok(true)
            }
            _ => self.fail(message),
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), JsonError> {
        if self.open(depth, b']')? {
            return Ok(());
        }
        loop {
            self.whitespace();
            self.value(depth)?;
            if self.closes(b']', "expected `,` or `]`")? {
                return Ok(());
            }
        }
    }

    /// An object at its `{`: its members, each name new in this object.
    fn object(&mut self, depth: usize) -> Result<Vec<Member>, JsonError> {
        if self.open(depth, b'}')? {
            return Ok(Vec::new());
        }
        // A typical access token's claims: ~10 members, one allocation.
        let mut members: Vec<Member> = Vec::with_capacity(if depth == 1 { 16 } else { 4 });
        // Made only past LINEAR_DUPLICATE_SCAN members (making a std hash set
        // reads its random keys: a cost for every object otherwise).
        let mut many: Option<std::collections::HashSet<String>> = None;
        loop {
            self.whitespace();
            if self.peek() != Some(b'"') {
                return self.fail("expected a member name");
            }
            let name_at = self.at;
            let (range, escaped) = self.string()?;
            let (key, t) = if escaped {
                // Cannot fail: the escapes were checked above.
                let name: String =
                    serde_json::from_str(&self.text[name_at..self.at]).unwrap_or_default();
                let t = tag(&name);
                (Key::Decoded(name), t)
            } else {
                let t = tag_at(self.bytes, &range);
                (Key::At(range), t)
            };
            let name = key.name(self.text);
            let duplicate = if members.len() < LINEAR_DUPLICATE_SCAN {
                members.iter().any(|m| m.is_named(t, name, self.text))
            } else {
                !many
                    .get_or_insert_with(|| {
                        members
                            .iter()
                            .map(|m| m.key.name(self.text).to_owned())
                            .collect()
                    })
                    .insert(name.to_owned())
            };
            if duplicate {
                let message = format!("duplicate member `{name}`");
                self.at = name_at;
                return self.fail(message);
            }
            self.expect(b':', "expected `:`")?;
            self.whitespace();
            let start = self.at;
            let escaped = self.value(depth)?;
            members.push(Member {
                tag: t,
                key,
                value: start..self.at,
                escaped,
            });
            if self.closes(b'}', "expected `,` or `}`")? {
                return Ok(members);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<JsonObject, JsonError> {
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
    fn objects_around_the_hash_set_limit_find_every_member_and_every_duplicate() {
        for n in [1, 31, 32, 33, 40] {
            let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
            let body: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(i, k)| format!("\"{k}\":{i}"))
                .collect();
            let c = parse(&format!("{{{}}}", body.join(","))).unwrap();
            for (i, k) in names.iter().enumerate() {
                assert_eq!(c.raw(k), Some(i.to_string().as_str()), "{k} of {n}");
            }
            assert!(c.raw("n999").is_none() && c.raw("").is_none());
            // A repeat of any earlier name, at the end, is refused.
            for k in &names {
                let dup = format!("{{{},\"{k}\":0}}", body.join(","));
                assert!(parse(&dup).is_err(), "{k} twice among {n}");
            }
        }
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

    /// The oracle: serde_json's own parse, refusing duplicate member names at
    /// any depth (which `serde_json::Value` silently keeps the last of).
    fn serde_strict(text: &str) -> bool {
        use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
        struct Strict;
        impl<'de> Deserialize<'de> for Strict {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(Strict)
            }
        }
        impl<'de> Visitor<'de> for Strict {
            type Value = Strict;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
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
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self, E> {
                v.is_finite()
                    .then_some(self)
                    .ok_or_else(|| E::custom("non-finite"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self, E> {
                Ok(self)
            }
            fn visit_unit<E>(self) -> Result<Self, E> {
                Ok(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self, A::Error> {
                while a.next_element::<Strict>()?.is_some() {}
                Ok(self)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self, A::Error> {
                let mut names = Vec::new();
                while let Some(k) = a.next_key::<String>()? {
                    if names.contains(&k) {
                        return Err(serde::de::Error::custom("duplicate"));
                    }
                    a.next_value::<Strict>()?;
                    names.push(k);
                }
                Ok(self)
            }
        }
        let mut de = serde_json::Deserializer::from_str(text);
        Strict::deserialize(&mut de).is_ok() && de.end().is_ok()
    }

    /// Pieces of JSON text, valid and not, that the generator strings together.
    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let atom = prop_oneof![
            Just("true".to_string()),
            Just("null".to_string()),
            Just("fals".to_string()),
            "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,3})?([eE][-+]?[0-9]{1,3})?",
            "-?0[0-9]|[0-9]+\\.|\\.[0-9]|1e|--1|\\+1",
            "\"([a-c]|\\\\[\"\\\\/bfnrtx]|\\\\u[0-9a-fA-F]{4}|\\\\ud83d\\\\ude00|\\\\ud800|\\\\udc00|\u{e9}|\u{1f600}|\t|\u{1}){0,6}\"",
        ];
        atom.prop_recursive(6, 64, 6, |inner| {
            let name = "\"([a-c]|\\\\u006[1-3]|\\\\n){1,2}\"";
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((name, " ?", inner), 0..6).prop_map(|v| {
                    let m: Vec<String> = v
                        .into_iter()
                        .map(|(n, w, x)| format!("{n}:{w}{x}"))
                        .collect();
                    format!("{{{}}}", m.join(","))
                }),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// The eight-at-a-time search stops where a byte-by-byte one does.
        #[test]
        fn plain_run_stops_at_the_first_special_byte(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![b'a'..=b'z', 0x1e..=0x23u8, proptest::strategy::Just(b'\\'), 0x7f..=0xffu8],
                0..40,
            ),
        ) {
            let want = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            proptest::prop_assert_eq!(plain_run(&bytes), want.unwrap_or(bytes.len()));
        }

        /// The scanner accepts exactly what strict serde_json accepts, and
        /// reads every top-level member as serde_json does.
        #[test]
        fn agrees_with_strict_serde_json(
            text in json_text(),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            insert in "[ ,:\\[\\]{}\"\\\\0-9a-z]?",
            ws in "[ \t\r\n]{0,2}",
        ) {
            // The document as generated, and with a damage at one place.
            let at = cut.index(text.len() + 1);
            let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            let damaged = format!("{}{}{}", &text[..at], insert, &text[at..]);
            for t in [format!("{ws}{text}{ws}"), damaged] {
                let want = serde_strict(&t);
                proptest::prop_assert_eq!(check_strict(&t).is_ok(), want, "{:?}", t);
                if t.trim_start().starts_with('{') {
                    let got = parse(&t);
                    proptest::prop_assert_eq!(got.is_ok(), want, "{:?}", t);
                    if let Ok(o) = got {
                        let m: Map<String, Value> = serde_json::from_str(&t).unwrap();
                        proptest::prop_assert_eq!(o.to_map(), m.clone());
                        // Every member is found by its name (the scanner's tag of
                        // it equals a lookup's), and strings read as serde_json's.
                        for (k, v) in &m {
                            let want = match v {
                                Value::String(sv) => Some(Field::Str(Cow::Owned(sv.clone()))),
                                _ => o.get(k),
                            };
                            proptest::prop_assert!(o.contains_key(k), "{:?} in {:?}", k, t);
                            proptest::prop_assert_eq!(o.get(k), want, "{:?} in {:?}", k, t);
                        }
                    }
                }
            }
        }
    }
}

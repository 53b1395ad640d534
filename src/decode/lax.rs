//! Optional JSON fields that survive a wrong type. Real Connect records carry optional fields
//! the model does not expect (the string `"null"` where the hierarchy object belongs, a number
//! where a string belongs): such a field must not cost the event. [`Lax`] deserializes any JSON
//! value, keeps it when it has the allowed type (a number or boolean where a string belongs is
//! kept as its text) and otherwise remembers the type it had; [`Walk`] then lists every such
//! field with its JSON path, so the run can count and report it. Required fields are checked
//! by the decoder, which rejects the record when one is not what it must be.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Text;

/// The JSON type a field must have.
pub trait Expect {
    const EXPECTS: &'static str;
}

impl Expect for Text<'_> {
    const EXPECTS: &'static str = "a string";
}

impl<T> Expect for Vec<T> {
    const EXPECTS: &'static str = "a list";
}

/// An optional field as it was in the record.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Lax<T> {
    /// Absent or `null`.
    #[default]
    Absent,
    Value(T),
    /// A number or boolean where a string belongs, kept as its text; `got` names its type.
    Coerced(T, &'static str),
    /// A value of a type the model does not allow (`got`), stored as null.
    Wrong(&'static str),
}

impl<T> Lax<T> {
    pub fn as_ref(&self) -> Option<&T> {
        match self {
            Lax::Value(v) | Lax::Coerced(v, _) => Some(v),
            Lax::Absent | Lax::Wrong(_) => None,
        }
    }

    /// The type the value had when it was not the allowed one.
    pub fn wrong_type(&self) -> Option<&'static str> {
        match self {
            Lax::Coerced(_, got) | Lax::Wrong(got) => Some(got),
            Lax::Absent | Lax::Value(_) => None,
        }
    }
}

impl<'a> Lax<Text<'a>> {
    pub fn as_deref(&self) -> Option<&str> {
        self.as_ref().map(|t| &**t)
    }
}

impl<T> Lax<Vec<T>> {
    pub fn as_slice(&self) -> Option<&[T]> {
        self.as_ref().map(Vec::as_slice)
    }
}

/// A JSON path without allocating: built on the stack as the walk descends, printed only for a
/// warning (`CurrentAgentSnapshot.Configuration.AgentHierarchyGroups`, `…Contacts[2].Queue`).
#[derive(Clone, Copy)]
pub enum Path<'p> {
    Root,
    Field(&'p Path<'p>, &'static str),
    Index(&'p Path<'p>, usize),
}

impl<'p> Path<'p> {
    pub fn field(&'p self, name: &'static str) -> Path<'p> {
        Path::Field(self, name)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(Path::Root, name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Lists the fields of a value that had a type the model does not allow.
pub trait Walk {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>);
}

impl Walk for Text<'_> {
    fn walk(&self, _: &Path<'_>, _: &mut Vec<String>) {}
}

impl<T: Walk> Walk for Vec<T> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        for (i, item) in self.iter().enumerate() {
            item.walk(&Path::Index(path, i), out);
        }
    }
}

impl<T: Walk + Expect> Walk for Lax<T> {
    fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
        if let Some(got) = self.wrong_type() {
            out.push(format!("{path}: expected {}, got {got}", T::EXPECTS));
        }
        if let Some(v) = self.as_ref() {
            v.walk(path, out);
        }
    }
}

/// Walks the named fields of a struct: `walk_fields!(self, path, out; "Name" => field, …)`.
#[macro_export]
macro_rules! walk_fields {
    ($self:expr, $path:expr, $out:expr; $($name:literal => $field:ident),* $(,)?) => {
        $( $crate::decode::lax::Walk::walk(&$self.$field, &($path).field($name), $out); )*
    };
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

struct LaxVisitor<T>(std::marker::PhantomData<T>);

impl<T: Expect> LaxVisitor<T> {
    fn wants(&self, kind: &str) -> bool {
        T::EXPECTS == kind
    }
}

/// A scalar where a string belongs is its text (and counted); anywhere else it is wrong.
fn scalar<'de, T: Deserialize<'de> + Expect, E: de::Error>(
    text: String,
    got: &'static str,
) -> Result<Lax<T>, E> {
    if T::EXPECTS == "a string" {
        let value = T::deserialize(de::value::StringDeserializer::<E>::new(text))?;
        Ok(Lax::Coerced(value, got))
    } else {
        Ok(Lax::Wrong(got))
    }
}

impl<'de, T: Deserialize<'de> + Expect> Visitor<'de> for LaxVisitor<T> {
    type Value = Lax<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTS)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Lax<T>, E> {
        Ok(Lax::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Lax<T>, E> {
        Ok(Lax::Absent)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Lax<T>, E> {
        scalar(v.to_string(), "a boolean")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lax<T>, E> {
        scalar(v.to_string(), "a number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lax<T>, E> {
        scalar(v.to_string(), "a number")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lax<T>, E> {
        scalar(v.to_string(), "a number")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Lax<T>, E> {
        if self.wants("a string") {
            T::deserialize(de::value::BorrowedStrDeserializer::new(v)).map(Lax::Value)
        } else {
            Ok(Lax::Wrong("a string"))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Lax<T>, E> {
        if self.wants("a string") {
            T::deserialize(de::value::StringDeserializer::new(v.to_owned())).map(Lax::Value)
        } else {
            Ok(Lax::Wrong("a string"))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lax<T>, A::Error> {
        if self.wants("an object") {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Lax::Value)
        } else {
            drain_map(map)?;
            Ok(Lax::Wrong("an object"))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lax<T>, A::Error> {
        if self.wants("a list") {
            T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Lax::Value)
        } else {
            drain_seq(seq)?;
            Ok(Lax::Wrong("a list"))
        }
    }
}

impl<'de, T: Deserialize<'de> + Expect> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LaxVisitor(std::marker::PhantomData))
    }
}

/// The text of a required string field, or why the record is rejected.
pub fn required<'v>(field: &str, value: &'v Lax<Text<'_>>) -> Result<&'v str, String> {
    match value {
        Lax::Value(t) if !t.is_empty() => Ok(t),
        Lax::Absent | Lax::Value(_) => Err(format!("missing {field}")),
        Lax::Coerced(_, got) | Lax::Wrong(got) => {
            Err(format!("{field}: expected a string, got {got}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Inner<'a> {
        #[serde(borrow, rename = "Name")]
        name: Lax<Text<'a>>,
    }

    impl Expect for Inner<'_> {
        const EXPECTS: &'static str = "an object";
    }

    impl Walk for Inner<'_> {
        fn walk(&self, path: &Path<'_>, out: &mut Vec<String>) {
            walk_fields!(self, path, out; "Name" => name);
        }
    }

    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Outer<'a> {
        #[serde(borrow, rename = "Inner")]
        inner: Lax<Inner<'a>>,
        #[serde(borrow, rename = "List")]
        list: Lax<Vec<Lax<Inner<'a>>>>,
        #[serde(borrow, rename = "S")]
        s: Lax<Text<'a>>,
    }

    fn warnings(json: &str) -> (Outer<'_>, Vec<String>) {
        let outer: Outer = serde_json::from_str(json).unwrap();
        let mut out = Vec::new();
        walk_fields!(outer, ROOT, &mut out; "Inner" => inner, "List" => list, "S" => s);
        (outer, out)
    }

    const ROOT: Path<'static> = Path::Root;

    #[test]
    fn right_types_pass_and_borrow() {
        let (o, w) = warnings(r#"{"Inner":{"Name":"x"},"List":[{"Name":"y"},null],"S":"z"}"#);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(o.inner.as_ref().unwrap().name.as_deref(), Some("x"));
        assert!(matches!(
            o.s.as_ref().unwrap().0,
            std::borrow::Cow::Borrowed("z")
        ));
        assert_eq!(o.list.as_slice().unwrap().len(), 2);
    }

    #[test]
    fn wrong_types_are_null_with_a_path() {
        let (o, w) =
            warnings(r#"{"Inner":"null","List":{"a":[1,{"b":2}]},"S":12.5,"Extra":[{"Inner":1}]}"#);
        assert!(o.inner.as_ref().is_none());
        assert!(o.list.as_ref().is_none());
        assert_eq!(o.s.as_deref(), Some("12.5"));
        assert_eq!(
            w,
            vec![
                "Inner: expected an object, got a string",
                "List: expected a list, got an object",
                "S: expected a string, got a number",
            ]
        );
        let (_, w) = warnings(r#"{"Inner":{"Name":{"x":1}},"List":[{"Name":true}, 3]}"#);
        assert_eq!(
            w,
            vec![
                "Inner.Name: expected a string, got an object",
                "List[0].Name: expected a string, got a boolean",
                "List[1]: expected an object, got a number",
            ]
        );
    }

    #[test]
    fn required_strings_say_what_is_wrong() {
        let (o, _) = warnings(r#"{"S":7}"#);
        assert_eq!(
            required("EventId", &o.s).unwrap_err(),
            "EventId: expected a string, got a number"
        );
        assert_eq!(
            required("EventId", &Lax::Absent).unwrap_err(),
            "missing EventId"
        );
    }
}

//! Property tests of the path-template parser and matcher.

use proptest::prelude::*;
use protomesh_gateway::{
    router::{decode, match_template},
    template::parse,
};

/// A literal segment.
fn literal() -> impl Strategy<Value = String> {
    "[a-z0-9_.~-]{1,8}".prop_filter("not a wildcard", |s| s != "*" && s != "**")
}

/// A value for a variable: any text, which the test percent-encodes into the path.
fn value() -> impl Strategy<Value = String> {
    "[ -~é/ü]{1,10}"
}

/// One template piece: (template text, path text, expected variable value if any).
fn piece(index: usize) -> impl Strategy<Value = (String, String, Option<String>)> {
    prop_oneof![
        literal().prop_map(|l| (l.clone(), l, None)),
        literal().prop_map(|l| ("*".to_owned(), l, None)),
        value().prop_map(move |v| {
            let encoded =
                percent_encoding::utf8_percent_encode(&v, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            (format!("{{f{index}}}"), encoded, Some(v))
        }),
        (literal(), literal()).prop_map(move |(a, b)| {
            (
                format!("{{g{index}=p/*}}"),
                format!("p/{a}%2F{b}"),
                Some(format!("p/{a}%2F{b}")),
            )
        }),
    ]
}

/// A whole template with a matching path and the values it must yield.
fn template() -> impl Strategy<Value = (String, String, Vec<String>)> {
    (
        proptest::collection::vec(any::<u8>(), 1..5),
        prop::option::of("[a-z]{1,6}"),
        any::<bool>(),
    )
        .prop_flat_map(|(seeds, verb, tail)| {
            let pieces: Vec<_> = (0..seeds.len()).map(piece).collect();
            (
                pieces,
                Just(verb),
                Just(tail),
                proptest::collection::vec(literal(), 0..3),
            )
        })
        .prop_map(|(pieces, verb, tail, rest)| {
            let mut text = String::new();
            let mut path = String::new();
            let mut values = Vec::new();
            for (t, p, v) in pieces {
                text.push('/');
                text.push_str(&t);
                path.push('/');
                path.push_str(&p);
                values.extend(v);
            }
            if tail {
                text.push_str("/{rest=**}");
                path.push('/');
                path.push_str(&rest.join("/"));
                values.push(rest.join("/"));
            }
            if let Some(verb) = verb {
                text.push(':');
                text.push_str(&verb);
                path.push(':');
                path.push_str(&verb);
            }
            (text, path, values)
        })
}

proptest! {
    /// The parser never panics, whatever the input.
    #[test]
    fn parse_never_panics(text in "\\PC{0,40}") {
        let _ = parse(&text);
    }

    /// Template-like noise never panics the parser or the matcher.
    #[test]
    fn noise_never_panics(text in "[/{}=*.:a-c%2F]{0,30}", path in "[/a-c%2F:]{0,30}") {
        if let Ok(t) = parse(&text) {
            let _ = match_template(&t, &path);
        }
        let _ = decode(&path, true);
    }

    /// Generated templates parse, print back to an equivalent template, and match a path built
    /// from them, yielding the values put in.
    #[test]
    fn generated_templates_round_trip_and_match((text, path, values) in template()) {
        let t = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let again = parse(&t.to_string()).map_err(|e| TestCaseError::fail(format!("{t}: {e}")))?;
        prop_assert_eq!(&again, &t);
        let got = match_template(&t, &path);
        prop_assert_eq!(got, Some(values), "{} against {}", text, path);
    }
}

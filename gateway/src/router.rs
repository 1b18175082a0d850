//! Matches an HTTP method and raw path against the route templates.
//!
//! Fully literal templates sit in a hash map (one lookup); the rest are tried in order of
//! specificity: templates with a custom verb first, then those with more literal segments,
//! `**` last. Two templates with the same method and shape are a conflict.

use foldhash::HashMap;
use http::Method;

use crate::template::{Segment, Template};

/// The result of matching a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Match {
    /// Route `route` matched; `values[i]` is the decoded value of the template's variable `i`.
    Found {
        /// Index of the route, as given to [`Router::insert`].
        route: usize,
        /// One decoded value per template variable.
        values: Vec<String>,
    },
    /// The path matches a route, but not with this method.
    MethodNotAllowed,
    /// No route has this path.
    NotFound,
}

#[derive(Debug)]
struct Entry {
    method: Method,
    template: Template,
    route: usize,
}

/// The route table's matcher.
#[derive(Debug, Default)]
pub struct Router {
    // Looked up on every request, with keys fixed when the table is built (no lookup can be
    // made slow from outside): a fast hasher suffices.
    exact: HashMap<String, Vec<(Method, usize)>>,
    entries: Vec<Entry>,
    shapes: HashMap<(Method, String), usize>,
}

impl Router {
    /// Adds a route; on a conflict returns the index of the route already holding that shape.
    pub fn insert(
        &mut self,
        method: Method,
        template: Template,
        route: usize,
    ) -> Result<(), usize> {
        let key = (method.clone(), shape(&template));
        if let Some(&existing) = self.shapes.get(&key) {
            return Err(existing);
        }
        self.shapes.insert(key, route);
        if template.variables.is_empty()
            && template
                .segments
                .iter()
                .all(|s| matches!(s, Segment::Literal(_)))
        {
            self.exact
                .entry(template.to_string())
                .or_default()
                .push((method, route));
        } else {
            self.entries.push(Entry {
                method,
                template,
                route,
            });
            self.entries.sort_by_key(|e| rank(&e.template));
        }
        Ok(())
    }

    /// Matches `method` and `path` (the raw, still percent-encoded path without the query).
    pub fn find(&self, method: &Method, path: &str) -> Match {
        let exact = self.exact.get(path);
        if let Some(&(_, route)) = exact.and_then(|routes| routes.iter().find(|(m, _)| m == method))
        {
            return Match::Found {
                route,
                values: Vec::new(),
            };
        }
        let mut other_method = false;
        for entry in &self.entries {
            if let Some(values) = match_template(&entry.template, path) {
                if entry.method == *method {
                    return Match::Found {
                        route: entry.route,
                        values,
                    };
                }
                other_method = true;
            }
        }
        if other_method || exact.is_some() {
            Match::MethodNotAllowed
        } else {
            Match::NotFound
        }
    }
}

/// Sort key: verbs first, then more literals, `**` last.
fn rank(t: &Template) -> (bool, bool, std::cmp::Reverse<usize>) {
    let literals = t
        .segments
        .iter()
        .filter(|s| matches!(s, Segment::Literal(_)))
        .count();
    let multi = t.segments.contains(&Segment::Multi);
    (t.verb.is_none(), multi, std::cmp::Reverse(literals))
}

/// The template with variable names erased: two routes with one shape can never be told apart.
fn shape(t: &Template) -> String {
    let mut out = String::new();
    for seg in &t.segments {
        out.push('/');
        match seg {
            Segment::Literal(text) => out.push_str(text),
            Segment::Single => out.push('*'),
            Segment::Multi => out.push_str("**"),
        }
    }
    if let Some(verb) = &t.verb {
        out.push(':');
        out.push_str(verb);
    }
    out
}

/// Matches one template against a raw path, returning the decoded variable values.
pub fn match_template(t: &Template, path: &str) -> Option<Vec<String>> {
    let mut rest = path.strip_prefix('/')?;
    if let Some(verb) = &t.verb {
        rest = rest.strip_suffix(verb.as_str())?.strip_suffix(':')?;
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(t.segments.len());
    let mut i = 0;
    for seg in &t.segments {
        match seg {
            Segment::Literal(text) => {
                let part = parts.get(i)?;
                if part != text && decode(part, false).as_deref() != Some(text.as_str()) {
                    return None;
                }
                spans.push((i, i + 1));
                i += 1;
            }
            Segment::Single => {
                let part = parts.get(i)?;
                if part.is_empty() {
                    return None;
                }
                spans.push((i, i + 1));
                i += 1;
            }
            Segment::Multi => {
                // `**` on an empty remainder matches zero segments.
                let end = if i == parts.len() - 1 && parts[i].is_empty() {
                    i
                } else {
                    parts.len()
                };
                spans.push((i, end.max(i)));
                i = parts.len();
            }
        }
    }
    if i != parts.len() {
        return None;
    }
    let mut values = Vec::with_capacity(t.variables.len());
    for var in &t.variables {
        let from = spans[var.start].0;
        let to = spans[var.end - 1].1;
        let raw = parts[from..to.max(from)].join("/");
        values.push(decode(&raw, var.is_multi_segment(&t.segments))?);
    }
    Some(values)
}

/// Percent-decodes a path value. Multi-segment values keep `%2F` encoded, as the spec says.
/// `None` for a malformed escape or a value that is not UTF-8 once decoded.
pub fn decode(raw: &str, keep_slash: bool) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            let byte = hi << 4 | lo;
            if keep_slash && byte == b'/' {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(byte);
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

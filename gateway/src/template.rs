//! The HttpRule path-template grammar, parsed by a small hand-written parser.
//!
//! ```text
//! Template  = "/" Segments [ Verb ] ;
//! Segments  = Segment { "/" Segment } ;
//! Segment   = "*" | "**" | LITERAL | Variable ;
//! Variable  = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb      = ":" LITERAL ;
//! ```
//!
//! `**` may only be the last segment. A variable may not hold another variable; `{a}` means
//! `{a=*}`.

use std::fmt;

/// One segment of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Matches exactly this text (after percent-decoding of the request segment).
    Literal(String),
    /// `*`: exactly one segment.
    Single,
    /// `**`: zero or more segments, only at the end.
    Multi,
}

/// A `{field.path=...}` capture: which segments it spans and which field it fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The request field path, such as `["shelf", "name"]` for `{shelf.name}`.
    pub field_path: Vec<String>,
    /// Index of the first segment the variable covers.
    pub start: usize,
    /// Index one past the last segment it covers.
    pub end: usize,
}

impl Variable {
    /// Whether the value may span several segments (so `%2F` stays encoded in it).
    pub fn is_multi_segment(&self, segments: &[Segment]) -> bool {
        self.end - self.start != 1 || segments[self.start] == Segment::Multi
    }
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The segments, variables expanded to what they match.
    pub segments: Vec<Segment>,
    /// The variables, in order of appearance.
    pub variables: Vec<Variable>,
    /// The custom verb after the final `:`, if any.
    pub verb: Option<String>,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path template at byte {at}: {reason}")]
pub struct TemplateError {
    /// Byte offset of the problem.
    pub at: usize,
    /// What is wrong.
    pub reason: &'static str,
}

/// Parses `text` as an HttpRule path template.
pub fn parse(text: &str) -> Result<Template, TemplateError> {
    Parser {
        text: text.as_bytes(),
        pos: 0,
        out: Template {
            segments: vec![],
            variables: vec![],
            verb: None,
        },
    }
    .run()
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    out: Template,
}

impl Parser<'_> {
    fn err<T>(&self, reason: &'static str) -> Result<T, TemplateError> {
        Err(TemplateError {
            at: self.pos,
            reason,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn run(mut self) -> Result<Template, TemplateError> {
        if self.peek() != Some(b'/') {
            return self.err("a template starts with '/'");
        }
        self.pos += 1;
        self.segments(false)?;
        if self.peek() == Some(b':') {
            self.pos += 1;
            let verb = self.literal()?;
            self.out.verb = Some(verb);
        }
        if self.pos != self.text.len() {
            return self.err("unexpected character");
        }
        if let Some(i) = self.out.segments.iter().position(|s| *s == Segment::Multi)
            && i + 1 != self.out.segments.len()
        {
            return self.err("'**' must be the last segment");
        }
        Ok(self.out)
    }

    fn segments(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        loop {
            self.segment(in_variable)?;
            if self.peek() == Some(b'/') {
                self.pos += 1;
            } else {
                return Ok(());
            }
        }
    }

    fn segment(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                if self.peek() == Some(b'*') {
                    self.pos += 1;
                    self.out.segments.push(Segment::Multi);
                } else {
                    self.out.segments.push(Segment::Single);
                }
                Ok(())
            }
            Some(b'{') if in_variable => self.err("a variable may not contain a variable"),
            Some(b'{') => self.variable(),
            _ => {
                let literal = self.literal()?;
                self.out.segments.push(Segment::Literal(literal));
                Ok(())
            }
        }
    }

    fn variable(&mut self) -> Result<(), TemplateError> {
        self.pos += 1;
        let mut field_path = vec![self.ident()?];
        while self.peek() == Some(b'.') {
            self.pos += 1;
            field_path.push(self.ident()?);
        }
        let start = self.out.segments.len();
        if self.peek() == Some(b'=') {
            self.pos += 1;
            self.segments(true)?;
        } else {
            self.out.segments.push(Segment::Single);
        }
        if self.peek() != Some(b'}') {
            return self.err("expected '}'");
        }
        self.pos += 1;
        if self
            .out
            .variables
            .iter()
            .any(|v| v.field_path == field_path)
        {
            return self.err("a field is bound twice");
        }
        let end = self.out.segments.len();
        self.out.variables.push(Variable {
            field_path,
            start,
            end,
        });
        Ok(())
    }

    fn ident(&mut self) -> Result<String, TemplateError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.pos += 1;
            } else {
                break;
            }
        }
        if start == self.pos || self.text[start].is_ascii_digit() {
            return self.err("expected a field name");
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned())
    }

    /// A literal: unreserved characters, sub-delimiters, `@`, and percent escapes.
    fn literal(&mut self) -> Result<String, TemplateError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'-' | b'.' | b'_' | b'~' | b'%' | b'!' | b'$' | b'&' | b'\''
                )
                || matches!(c, b'(' | b')' | b'+' | b',' | b';' | b'=' | b'@');
            if !ok {
                break;
            }
            self.pos += 1;
        }
        if start == self.pos {
            return self.err("expected a literal");
        }
        let raw = String::from_utf8_lossy(&self.text[start..self.pos]);
        match percent_encoding::percent_decode_str(&raw).decode_utf8() {
            Ok(text) => Ok(text.into_owned()),
            Err(_) => self.err("a literal is not UTF-8 after decoding"),
        }
    }
}

impl fmt::Display for Template {
    /// Prints the template in its canonical form, variables as `{a.b=...}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        while i < self.segments.len() {
            f.write_str("/")?;
            if let Some(var) = self.variables.iter().find(|v| v.start == i) {
                write!(f, "{{{}", var.field_path.join("."))?;
                if !(var.end == var.start + 1 && self.segments[i] == Segment::Single) {
                    f.write_str("=")?;
                    for (k, seg) in self.segments[var.start..var.end].iter().enumerate() {
                        if k > 0 {
                            f.write_str("/")?;
                        }
                        write_segment(f, seg)?;
                    }
                }
                f.write_str("}")?;
                i = var.end.max(i + 1);
            } else {
                write_segment(f, &self.segments[i])?;
                i += 1;
            }
        }
        if let Some(verb) = &self.verb {
            write!(f, ":{verb}")?;
        }
        Ok(())
    }
}

/// Everything but the unreserved characters is escaped when a literal is printed.
const UNRESERVED_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn write_segment(f: &mut fmt::Formatter<'_>, seg: &Segment) -> fmt::Result {
    match seg {
        Segment::Literal(text) => {
            write!(
                f,
                "{}",
                percent_encoding::utf8_percent_encode(text, UNRESERVED_KEPT)
            )
        }
        Segment::Single => f.write_str("*"),
        Segment::Multi => f.write_str("**"),
    }
}

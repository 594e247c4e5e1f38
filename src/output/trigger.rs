//! When an output fires, after HOOMD-blue's triggers (`hoomd.trigger.Periodic`, `Before`, `After`,
//! `On`, `And`, `Or`, `Not`).
//!
//! # Text form
//!
//! The command line and the DSL spell triggers as text, parsed by [`Trigger::from_str`]:
//!
//! ```text
//! expr    := and ( '|' and )*           -- Or: fires when any side fires
//! and     := unary ( '&' unary )*       -- And: fires when every side fires
//! unary   := '!' unary | '(' expr ')' | atom
//! atom    := 'every:' N [ '@' N ]       -- Periodic { period, phase } (phase 0 when left out)
//!          | 'before:' N                -- step < N
//!          | 'after:' N                 -- step > N
//!          | 'on:' N                    -- step == N
//! N       := decimal digits (u64; '_' allowed as a separator, e.g. 10_000)
//! ```
//!
//! `&` binds tighter than `|`, `!` tighter than both; spaces are allowed around every token.
//! Examples: `every:100`, `every:100@50`, `every:100&after:1000`, `every:10|on:5`, `!before:100`,
//! `(every:10|on:5)&before:1000`. [`Trigger`]'s `Display` writes this form back (parenthesised
//! where needed), so `t.to_string().parse() == Ok(t)`.

use std::fmt;
use std::str::FromStr;

/// A rule deciding at which steps an output (a trajectory frame, a thermo row) is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Fires when `step >= phase` and `(step - phase) % period == 0`; `period` is at least 1.
    Periodic {
        /// Steps between firings (at least 1).
        period: u64,
        /// First step that fires.
        phase: u64,
    },
    /// Fires when `step < t`.
    Before(u64),
    /// Fires when `step > t`.
    After(u64),
    /// Fires when `step == t`.
    On(u64),
    /// Fires when every inner trigger fires (always, when empty).
    And(Vec<Trigger>),
    /// Fires when any inner trigger fires (never, when empty).
    Or(Vec<Trigger>),
    /// Fires when the inner trigger does not.
    Not(Box<Trigger>),
}

impl Trigger {
    /// `Periodic { period, phase: 0 }`.
    pub fn every(period: u64) -> Self {
        Trigger::Periodic { period, phase: 0 }
    }

    /// Whether the output fires at `step`. A `Periodic` with period 0 (only constructible by hand;
    /// the parser refuses it) fires at `step == phase` only.
    pub fn fires(&self, step: u64) -> bool {
        match self {
            Trigger::Periodic { period, phase } => {
                step >= *phase && if *period == 0 { step == *phase } else { (step - phase) % period == 0 }
            }
            Trigger::Before(t) => step < *t,
            Trigger::After(t) => step > *t,
            Trigger::On(t) => step == *t,
            Trigger::And(ts) => ts.iter().all(|t| t.fires(step)),
            Trigger::Or(ts) => ts.iter().any(|t| t.fires(step)),
            Trigger::Not(t) => !t.fires(step),
        }
    }
}

/// Precedence levels for `Display`: Or < And < unary.
fn write_prec(t: &Trigger, f: &mut fmt::Formatter<'_>, min_prec: u8) -> fmt::Result {
    let (prec, sep, items) = match t {
        Trigger::Or(ts) => (0, "|", ts),
        Trigger::And(ts) => (1, "&", ts),
        Trigger::Not(inner) => {
            f.write_str("!")?;
            return write_prec(inner, f, 2);
        }
        Trigger::Periodic { period, phase: 0 } => return write!(f, "every:{period}"),
        Trigger::Periodic { period, phase } => return write!(f, "every:{period}@{phase}"),
        Trigger::Before(t) => return write!(f, "before:{t}"),
        Trigger::After(t) => return write!(f, "after:{t}"),
        Trigger::On(t) => return write!(f, "on:{t}"),
    };
    // An empty or single-item And/Or has no text form of its own: write an equivalent.
    match items.len() {
        0 if prec == 0 => return f.write_str("!every:1"),
        0 => return f.write_str("every:1"),
        1 => return write_prec(&items[0], f, min_prec),
        _ => {}
    }
    let paren = prec < min_prec;
    if paren {
        f.write_str("(")?;
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        // Same-kind nesting needs parentheses to survive a round trip as the same tree.
        write_prec(item, f, prec + 1)?;
    }
    if paren {
        f.write_str(")")?;
    }
    Ok(())
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_prec(self, f, 0)
    }
}

/// A trigger's text form could not be parsed: the input, the byte offset and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseTriggerError {
    /// The whole text that was parsed.
    pub input: String,
    /// Byte offset of the problem in `input`.
    pub at: usize,
    /// What was wrong.
    pub what: String,
}

impl fmt::Display for ParseTriggerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid trigger {:?} at offset {}: {} (expected e.g. every:100, every:100@50, before:N, after:N, on:N, \
             combined with & | ! and parentheses)",
            self.input, self.at, self.what
        )
    }
}

impl std::error::Error for ParseTriggerError {}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, at: usize, what: impl Into<String>) -> ParseTriggerError {
        ParseTriggerError { input: self.s.to_string(), at, what: what.into() }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.s[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.s[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Trigger, ParseTriggerError> {
        let mut items = vec![self.and()?];
        while self.eat('|') {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap() } else { Trigger::Or(items) })
    }

    fn and(&mut self) -> Result<Trigger, ParseTriggerError> {
        let mut items = vec![self.unary()?];
        while self.eat('&') {
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap() } else { Trigger::And(items) })
    }

    fn unary(&mut self) -> Result<Trigger, ParseTriggerError> {
        if self.eat('!') {
            return Ok(Trigger::Not(Box::new(self.unary()?)));
        }
        if self.eat('(') {
            let open = self.pos - 1;
            let inner = self.expr()?;
            if !self.eat(')') {
                let at = self.pos;
                return Err(match self.peek() {
                    None => self.err(open, "unclosed '('"),
                    Some(c) => self.err(at, format!("expected ')', '&' or '|', found {c:?}")),
                });
            }
            return Ok(inner);
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Trigger, ParseTriggerError> {
        self.skip_ws();
        let start = self.pos;
        let rest = &self.s[start..];
        let name_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let name = &rest[..name_len];
        if name.is_empty() {
            return Err(match rest.chars().next() {
                None => self.err(start, "expected a trigger, found the end of the text"),
                Some(c) => self.err(start, format!("expected a trigger (every:, before:, after:, on:), found {c:?}")),
            });
        }
        let kind = name.to_ascii_lowercase();
        if !matches!(kind.as_str(), "every" | "before" | "after" | "on") {
            return Err(self.err(start, format!("unknown trigger {name:?} (known: every, before, after, on)")));
        }
        self.pos += name_len;
        if !self.s[self.pos..].starts_with(':') {
            return Err(self.err(self.pos, format!("expected ':' and a step after {name:?}")));
        }
        self.pos += 1;
        let n = self.number(&kind)?;
        Ok(match kind.as_str() {
            "every" => {
                if n == 0 {
                    return Err(self.err(start, "the period of every: must be at least 1"));
                }
                let phase = if self.s[self.pos..].starts_with('@') {
                    self.pos += 1;
                    self.number("phase")?
                } else {
                    0
                };
                Trigger::Periodic { period: n, phase }
            }
            "before" => Trigger::Before(n),
            "after" => Trigger::After(n),
            _ => Trigger::On(n),
        })
    }

    fn number(&mut self, what: &str) -> Result<u64, ParseTriggerError> {
        let start = self.pos;
        let rest = &self.s[start..];
        let len = rest.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(rest.len());
        let digits: String = rest[..len].chars().filter(|c| *c != '_').collect();
        if digits.is_empty() {
            let found = rest.chars().next().map_or("the end of the text".to_string(), |c| format!("{c:?}"));
            return Err(self.err(start, format!("expected a non-negative integer step for {what}, found {found}")));
        }
        let n = digits
            .parse::<u64>()
            .map_err(|_| self.err(start, format!("{what}: {} does not fit in u64", &rest[..len])))?;
        self.pos += len;
        Ok(n)
    }
}

impl FromStr for Trigger {
    type Err = ParseTriggerError;

    /// Parses the text form documented in the [module](self).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut p = Parser { s, pos: 0 };
        let t = p.expr()?;
        if let Some(c) = p.peek() {
            let at = p.pos;
            let what = if c == ')' { "unmatched ')'".to_string() } else { format!("expected '&' or '|', found {c:?}") };
            return Err(p.err(at, what));
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(t: &Trigger, upto: u64) -> Vec<u64> {
        (0..upto).filter(|&s| t.fires(s)).collect()
    }

    fn p(s: &str) -> Trigger {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn periodic_with_phase() {
        assert_eq!(steps(&Trigger::every(3), 10), [0, 3, 6, 9]);
        assert_eq!(steps(&Trigger::Periodic { period: 4, phase: 2 }, 12), [2, 6, 10]);
        assert_eq!(steps(&Trigger::Periodic { period: 1, phase: 5 }, 8), [5, 6, 7]);
        assert_eq!(steps(&Trigger::Periodic { period: 0, phase: 5 }, 8), [5]);
        // No overflow at the ends of the range.
        assert!(Trigger::Periodic { period: 2, phase: u64::MAX }.fires(u64::MAX));
        assert!(!Trigger::Periodic { period: 2, phase: u64::MAX }.fires(0));
    }

    #[test]
    fn before_after_on_and_combinators() {
        assert_eq!(steps(&Trigger::Before(3), 10), [0, 1, 2]);
        assert_eq!(steps(&Trigger::After(7), 10), [8, 9]);
        assert_eq!(steps(&Trigger::On(4), 10), [4]);
        let t = Trigger::And(vec![Trigger::every(2), Trigger::After(4)]);
        assert_eq!(steps(&t, 12), [6, 8, 10]);
        let t = Trigger::Or(vec![Trigger::every(5), Trigger::On(3)]);
        assert_eq!(steps(&t, 11), [0, 3, 5, 10]);
        assert_eq!(steps(&Trigger::Not(Box::new(Trigger::Before(8))), 10), [8, 9]);
        assert!(Trigger::And(vec![]).fires(17));
        assert!(!Trigger::Or(vec![]).fires(17));
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(p("every:100"), Trigger::every(100));
        assert_eq!(p("every:100@50"), Trigger::Periodic { period: 100, phase: 50 });
        assert_eq!(p("before:1000"), Trigger::Before(1000));
        assert_eq!(p("after:500"), Trigger::After(500));
        assert_eq!(p("on:42"), Trigger::On(42));
        assert_eq!(p("every:10_000"), Trigger::every(10_000));
        assert_eq!(p("every:100&after:1000"), Trigger::And(vec![Trigger::every(100), Trigger::After(1000)]));
        assert_eq!(p("every:10|on:5"), Trigger::Or(vec![Trigger::every(10), Trigger::On(5)]));
        assert_eq!(p("!before:100"), Trigger::Not(Box::new(Trigger::Before(100))));
        assert_eq!(p(" EVERY:2 | on:3 & after:1 "), p("every:2|(on:3&after:1)"));
        assert_eq!(
            p("(every:10|on:5)&before:1000"),
            Trigger::And(vec![Trigger::Or(vec![Trigger::every(10), Trigger::On(5)]), Trigger::Before(1000)])
        );
        assert_eq!(p("!!on:1"), Trigger::Not(Box::new(Trigger::Not(Box::new(Trigger::On(1))))));
        assert_eq!(steps(&p("every:100@50&!after:300"), 1000), [50, 150, 250]);
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "every:100",
            "every:100@50",
            "every:100&after:1000",
            "every:10|on:5",
            "!before:100",
            "(every:10|on:5)&before:1000",
            "!(on:1|on:2)",
            "on:1|on:2&on:3",
            "!!on:1",
        ] {
            let t = p(s);
            assert_eq!(p(&t.to_string()), t, "{s} -> {t}");
        }
        // Nested same-kind trees keep their shape.
        let t = Trigger::Or(vec![Trigger::Or(vec![Trigger::On(1), Trigger::On(2)]), Trigger::On(3)]);
        assert_eq!(p(&t.to_string()), t);
        // Degenerate And/Or print an equivalent.
        for t in [Trigger::And(vec![]), Trigger::Or(vec![]), Trigger::And(vec![Trigger::On(4)])] {
            let back = p(&t.to_string());
            assert_eq!(steps(&back, 20), steps(&t, 20), "{t}");
        }
    }

    #[test]
    fn errors_say_what_was_wrong() {
        let cases = [
            ("", "found the end of the text"),
            ("every", "expected ':'"),
            ("every:", "expected a non-negative integer step for every"),
            ("every:0", "at least 1"),
            ("every:-5", "found '-'"),
            ("every:10@", "for phase"),
            ("sometimes:3", "unknown trigger \"sometimes\""),
            ("on:1 on:2", "expected '&' or '|', found 'o'"),
            ("on:1&", "found the end of the text"),
            ("(on:1|on:2", "unclosed '('"),
            ("on:1)", "unmatched ')'"),
            ("on:99999999999999999999999", "does not fit in u64"),
            ("on:1.5", "found '.'"),
        ];
        for (input, want) in cases {
            let e = input.parse::<Trigger>().expect_err(input).to_string();
            assert!(e.contains(want), "{input:?}: {e}");
            assert!(e.contains(&format!("{input:?}")), "{input:?}: {e}");
        }
        let e = "on:1 & sometimes:2".parse::<Trigger>().unwrap_err();
        assert_eq!(e.at, 7);
    }
}

//! A small parser for the blackhole's flat JSON config: one object whose
//! values are non-negative integers or plain strings. Errors name the byte
//! offset and what was expected.

/// One value in the config object.
#[derive(Debug, PartialEq)]
pub enum Value {
    Uint(u64),
    Str(String),
}

/// Parses `input` into its key/value pairs, in order. Repeated keys are an
/// error; which keys are allowed is the caller's business.
pub fn parse(input: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let mut p = Parser { s: input, pos: 0 };
    p.space();
    if p.pos >= p.s.len() {
        return Err(p.err("empty config, expected a JSON object such as {}"));
    }
    p.expect(b'{')?;
    let mut out: Vec<(String, Value)> = Vec::new();
    p.space();
    if p.peek() == Some(b'}') {
        p.pos += 1;
    } else {
        loop {
            p.space();
            let at = p.pos;
            let key = p.string("a key in double quotes")?;
            if out.iter().any(|(k, _)| *k == key) {
                p.pos = at;
                return Err(p.err(&format!("key \"{}\" given twice", key)));
            }
            p.expect(b':')?;
            p.space();
            let v = match p.peek() {
                Some(b'"') => Value::Str(p.string("a string")?),
                Some(b'-') => {
                    return Err(p.err(&format!(
                        "key \"{}\": negative number, expected a non-negative integer",
                        key
                    )))
                }
                Some(c) if c.is_ascii_digit() => Value::Uint(p.uint(&key)?),
                _ => {
                    let f = p.found();
                    return Err(p.err(&format!(
                        "key \"{}\": found {}, expected a non-negative integer or a string",
                        key, f
                    )));
                }
            };
            out.push((key, v));
            p.space();
            match p.peek() {
                Some(b',') => p.pos += 1,
                Some(b'}') => {
                    p.pos += 1;
                    break;
                }
                _ => {
                    let f = p.found();
                    return Err(p.err(&format!("found {}, expected ',' or '}}'", f)));
                }
            }
        }
    }
    p.space();
    if p.pos < p.s.len() {
        let f = p.found();
        return Err(p.err(&format!("found {} after the object, expected end of input", f)));
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, msg: &str) -> String {
        format!("parse config: offset {}: {}", self.pos, msg)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "end of input".to_string(),
            Some(c) if (0x20..0x7f).contains(&c) => format!("'{}'", c as char),
            Some(c) => format!("byte 0x{:02x}", c),
        }
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), String> {
        self.space();
        if self.peek() != Some(want) {
            let f = self.found();
            return Err(self.err(&format!("found {}, expected '{}'", f, want as char)));
        }
        self.pos += 1;
        Ok(())
    }

    /// A JSON string with the escapes \" \\ \/ \n \t only; it must be UTF-8.
    fn string(&mut self, what: &str) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            let f = self.found();
            return Err(self.err(&format!("found {}, expected {}", f, what)));
        }
        self.pos += 1;
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let c = match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(c) => c,
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                0..=0x1f => return Err(self.err(&format!("control byte 0x{:02x} in string", c))),
                b'\\' => {
                    let e = match self.s.get(self.pos + 1) {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(_) => return Err(self.err("unsupported escape in string")),
                        None => return Err(self.err("unterminated string")),
                    };
                    buf.push(e);
                    self.pos += 2;
                }
                _ => {
                    buf.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(buf).map_err(|_| self.err("string is not valid UTF-8"))
    }

    fn uint(&mut self, key: &str) -> Result<u64, String> {
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(c) = self.peek() {
            if !c.is_ascii_digit() {
                break;
            }
            v = match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))) {
                Some(v) => v,
                None => return Err(self.err(&format!("key \"{}\": number too large", key))),
            };
            self.pos += 1;
        }
        if self.pos - start > 1 && self.s[start] == b'0' {
            self.pos = start;
            return Err(self.err(&format!("key \"{}\": leading zero in number", key)));
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return Err(self.err(&format!(
                "key \"{}\": expected an integer, found a fraction or exponent",
                key
            )));
        }
        Ok(v)
    }
}

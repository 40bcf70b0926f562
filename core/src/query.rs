//! A request's query string, read from the URL the runtime hands the Worker.
//!
//! The runtime gives each request its URL already parsed and serialised (WHATWG URL), so the
//! Worker only needs the query out of it, and each parameter as `application/x-www-form-urlencoded`
//! decodes it. Doing that here, instead of parsing the URL again with the `url` crate, keeps
//! that crate's parser and its Unicode host tables out of the wasm.

/// The query of `url`: after the first `?`, up to a `#`; `None` without a `?`.
pub fn of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once('?')?;
    Some(rest.split_once('#').map_or(rest, |(query, _)| query))
}

/// The first value of parameter `name` in `query`, decoded (`+` is a space, `%XX` a byte,
/// invalid UTF-8 replaced): the form-urlencoded parser's rules (WHATWG URL §5.1).
pub fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').filter(|pair| !pair.is_empty()).find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(value))
    })
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex(*high).zip(hex(*low)),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some((high, low))) => {
                out.push(high << 4 | low);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_between_the_question_mark_and_the_fragment() {
        assert_eq!(of("https://h/p"), None);
        assert_eq!(of("https://h/p?"), Some(""));
        assert_eq!(of("https://h/p?a=1&b=2"), Some("a=1&b=2"));
        assert_eq!(of("https://h/p?a=1#f?x"), Some("a=1"));
        assert_eq!(of("https://h/p?a=?b"), Some("a=?b"));
    }

    #[test]
    fn a_parameter_is_its_first_value_decoded() {
        assert_eq!(param("since=5&since=6", "since").as_deref(), Some("5"));
        assert_eq!(param("a=1&&token=x.y.z", "token").as_deref(), Some("x.y.z"));
        assert_eq!(param("token", "token").as_deref(), Some(""));
        assert_eq!(param("token=", "token").as_deref(), Some(""));
        assert_eq!(param("cursor=a%2Bb+c%20d", "cursor").as_deref(), Some("a+b c d"));
        assert_eq!(param("na%6De=v", "name").as_deref(), Some("v"), "names are decoded too");
        assert_eq!(param("q=a=b", "q").as_deref(), Some("a=b"), "split at the first `=`");
        assert_eq!(param("q=%zz%4", "q").as_deref(), Some("%zz%4"), "a bad escape stays as written");
        assert_eq!(param("q=%C3%AB", "q").as_deref(), Some("ë"));
        assert_eq!(param("q=%FF", "q").as_deref(), Some("\u{FFFD}"), "invalid UTF-8 is replaced");
        assert_eq!(param("a=1", "b"), None);
        assert_eq!(param("", "b"), None);
    }
}

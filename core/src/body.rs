//! A request body read against a size limit: which chunks the Worker keeps, which it reads
//! only to throw away, and the `payload_too_large` refusal.
//!
//! A body over the limit is still read to its end (and thrown away) before the refusal is
//! sent, whether it declares its length or comes chunked, up to [`DISCARD_AT_MOST`] bytes past
//! the limit. A body left unread, or read only in part, breaks the connection it came on:
//! workerd answers, then closes or resets that connection rather than find the next request on
//! it, so a client that reuses connections (wrangler dev's proxy does, for every client of
//! `make dev`) loses the next request, which may be another client's. A body that declares a
//! length more than [`DISCARD_AT_MOST`] past the limit is refused unread: its connection goes.

use crate::error::{Error, ErrorCode};

/// How much of a body past its limit is read and thrown away. A client that overshot (a
/// 70 KB publish, a 2 MB upload) is read to its end and keeps its connection; one that
/// streams on past this is cut off, so that no body holds a request open for ever.
pub const DISCARD_AT_MOST: usize = 8 << 20;

/// What to do with the next chunk of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Within the limit: part of the body.
    Keep,
    /// Past the limit: read it and throw it away.
    Discard,
    /// Too far past the limit to be worth reading on: stop reading (the connection goes).
    GiveUp,
}

/// A body being read in chunks against `limit` bytes.
#[derive(Debug, Clone)]
pub struct BodyLimit {
    limit: usize,
    read: usize,
    gave_up: bool,
}

impl BodyLimit {
    pub fn new(limit: usize) -> Self {
        Self { limit, read: 0, gave_up: false }
    }

    /// A body that declares a length more than [`DISCARD_AT_MOST`] past the limit is refused
    /// before any of it is read; one less far over is read to its end ([`BodyLimit::on_chunk`]).
    pub fn on_declared(&self, length: Option<usize>) -> Result<(), Error> {
        match length {
            Some(length) if length.saturating_sub(self.limit) > DISCARD_AT_MOST => {
                Err(self.too_large(format!("{length} bytes")))
            }
            _ => Ok(()),
        }
    }

    /// The next chunk, `len` bytes long.
    pub fn on_chunk(&mut self, len: usize) -> Chunk {
        self.read = self.read.saturating_add(len);
        if self.read <= self.limit {
            Chunk::Keep
        } else if self.read - self.limit <= DISCARD_AT_MOST {
            Chunk::Discard
        } else {
            self.gave_up = true;
            Chunk::GiveUp
        }
    }

    /// The body ended, or reading it was given up: refused when it went past the limit.
    pub fn on_end(&self) -> Result<(), Error> {
        match (self.read > self.limit, self.gave_up) {
            (false, _) => Ok(()),
            (true, false) => Err(self.too_large(format!("{} bytes", self.read))),
            (true, true) => Err(self.too_large(format!("over {} bytes", self.read))),
        }
    }

    fn too_large(&self, size: String) -> Error {
        Error::new(ErrorCode::PayloadTooLarge, format!("the body is {size}; the limit is {}", self.limit))
            .with_details(serde_json::json!({ "limit": self.limit }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(limit: usize, chunks: &[usize]) -> (Vec<Chunk>, Result<(), Error>) {
        let mut body = BodyLimit::new(limit);
        let mut seen = Vec::new();
        for &len in chunks {
            let chunk = body.on_chunk(len);
            seen.push(chunk);
            if chunk == Chunk::GiveUp {
                break;
            }
        }
        (seen, body.on_end())
    }

    #[test]
    fn a_body_within_the_limit_is_kept_whole() {
        let (chunks, end) = read(100, &[60, 40]);
        assert_eq!(chunks, [Chunk::Keep, Chunk::Keep]);
        assert_eq!(end, Ok(()));
        assert_eq!(BodyLimit::new(100).on_declared(Some(100)), Ok(()));
        assert_eq!(BodyLimit::new(100).on_declared(None), Ok(()));
    }

    #[test]
    fn a_body_over_the_limit_is_read_to_its_end_then_refused_with_its_length_and_the_limit() {
        let (chunks, end) = read(100, &[60, 60, 500]);
        assert_eq!(chunks, [Chunk::Keep, Chunk::Discard, Chunk::Discard]);
        let error = end.unwrap_err();
        assert_eq!(error.code, ErrorCode::PayloadTooLarge);
        assert_eq!(error.message, "the body is 620 bytes; the limit is 100");
        assert_eq!(error.details, Some(serde_json::json!({ "limit": 100 })));
    }

    #[test]
    fn a_declared_length_far_over_the_limit_is_refused_before_reading_and_one_near_it_is_read() {
        let far = 101 + DISCARD_AT_MOST;
        let error = BodyLimit::new(100).on_declared(Some(far)).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (ErrorCode::PayloadTooLarge, format!("the body is {far} bytes; the limit is 100").as_str())
        );
        assert_eq!(error.details, Some(serde_json::json!({ "limit": 100 })));
        assert_eq!(BodyLimit::new(100).on_declared(Some(100 + DISCARD_AT_MOST)), Ok(()), "read, then refused");
    }

    #[test]
    fn reading_stops_once_a_body_runs_more_than_discard_at_most_past_the_limit() {
        let (chunks, end) = read(100, &[100, DISCARD_AT_MOST, 1, 1]);
        assert_eq!(chunks, [Chunk::Keep, Chunk::Discard, Chunk::GiveUp]);
        let error = end.unwrap_err();
        assert_eq!(error.code, ErrorCode::PayloadTooLarge);
        assert_eq!(error.message, format!("the body is over {} bytes; the limit is 100", 101 + DISCARD_AT_MOST));
    }
}

//! Unix-socket clients whose HTTP/2 `:authority` the `h2` server would refuse.
//!
//! gRPC's C core (grpc-python 1.6x and later, with default settings) sends the socket's path,
//! percent-encoded, as the `:authority` of a call over a Unix socket
//! (`tmp%2Fdir%2Feclatd.sock`). A `%` is not allowed in a host name, so `h2` resets every such
//! stream as malformed (`RST_STREAM`, `PROTOCOL_ERROR`) before tonic sees it. Over a Unix socket
//! the authority names nothing, so this module rewrites the client's header blocks on their way
//! in: an `:authority` that `h2` would refuse becomes `localhost`; every other header and every
//! other frame pass unchanged.
//!
//! HPACK makes a header block depend on the ones before it on the connection (the dynamic
//! table), so every block is decoded here (with the client's table, `hpack`'s decoder) and
//! sent on as literals that use no dynamic table: the server's table then stays empty and in
//! step. Frames are parsed only as far as that needs (RFC 9113 §4.1, §6.2, §6.10); anything
//! this module cannot make sense of makes it step aside and pass every later byte through
//! untouched, for `h2` to judge. So that a client cannot make it hold more than `h2` would, a
//! header block larger than [`MAX_BLOCK`] or a dynamic table larger than the server's
//! [`MAX_TABLE`] also makes it step aside (`h2` refuses both).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;

/// The client connection preface (RFC 9113 §3.4).
const PREFACE_LEN: usize = 24;
/// Frame header bytes.
const FRAME_HEADER: usize = 9;
/// The largest frame payload a peer must accept without asking (SETTINGS_MAX_FRAME_SIZE's
/// initial value): re-encoded blocks are split at this size.
const MAX_FRAME: usize = 16_384;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The most header-block bytes (HEADERS and CONTINUATION frames) held back while a block is
/// open; gRPC's headers are a few hundred bytes.
const MAX_BLOCK: usize = 256 * 1024;
/// SETTINGS_HEADER_TABLE_SIZE as the server (`h2`) advertises it, its default: a client may
/// not make its table larger (RFC 7541 §4.2), so a larger size update is refused by `h2`.
const MAX_TABLE: usize = 4096;
/// What an unusable authority becomes.
const LOCALHOST: &[u8] = b"localhost";

/// A HEADERS frame waiting for its CONTINUATION frames.
struct OpenBlock {
    stream: [u8; 4],
    end_stream: bool,
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
    /// The block's frames as the client sent them, to pass on untouched if it is not used.
    raw: Vec<u8>,
}

/// The client-to-server byte stream's rewriter (see the module docs).
pub struct Rewriter {
    decoder: hpack::Decoder<'static>,
    /// Client bytes not processed yet (an incomplete frame).
    pending: Vec<u8>,
    preface_left: usize,
    open: Option<OpenBlock>,
    /// Set once something could not be parsed: from then on, bytes pass untouched.
    passthrough: bool,
}

impl Default for Rewriter {
    fn default() -> Self {
        Rewriter {
            decoder: hpack::Decoder::new(),
            pending: Vec::new(),
            preface_left: PREFACE_LEN,
            open: None,
            passthrough: false,
        }
    }
}

/// Whether `h2` would refuse `authority` as a URI authority.
fn refused(authority: &[u8]) -> bool {
    std::str::from_utf8(authority)
        .ok()
        .and_then(|s| s.parse::<http::uri::Authority>().ok())
        .is_none()
}

/// An HPACK integer with an `n`-bit prefix whose other bits are `first` (RFC 7541 §5.1).
fn push_int(out: &mut Vec<u8>, first: u8, n: u32, value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// A header as a literal field without indexing, new name, no Huffman (RFC 7541 §6.2.2).
fn push_literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x00);
    push_int(out, 0x00, 7, name.len());
    out.extend_from_slice(name);
    push_int(out, 0x00, 7, value.len());
    out.extend_from_slice(value);
}

fn push_frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: [u8; 4], payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream);
    out.extend_from_slice(payload);
}

impl Rewriter {
    /// Takes bytes the client sent; returns the bytes for the server (possibly none yet: an
    /// incomplete frame waits for the rest).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.passthrough {
            return bytes.to_vec();
        }
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        if self.preface_left > 0 {
            let n = self.preface_left.min(self.pending.len());
            out.extend(self.pending.drain(..n));
            self.preface_left -= n;
        }
        while self.preface_left == 0 && self.pending.len() >= FRAME_HEADER {
            let len =
                u32::from_be_bytes([0, self.pending[0], self.pending[1], self.pending[2]]) as usize;
            if self.pending.len() < FRAME_HEADER + len {
                break;
            }
            let frame: Vec<u8> = self.pending.drain(..FRAME_HEADER + len).collect();
            if let Err(unsent) = self.frame(frame, &mut out) {
                // Step aside: the rest goes through as the client sent it.
                self.passthrough = true;
                out.extend_from_slice(&unsent);
                out.append(&mut self.pending);
                break;
            }
        }
        out
    }

    /// Handles one whole frame. If it cannot be made sense of, the error holds the client's
    /// bytes not sent on yet (this frame, and the open block's earlier frames), as they came.
    fn frame(&mut self, frame: Vec<u8>, out: &mut Vec<u8>) -> Result<(), Vec<u8>> {
        let (kind, flags) = (frame[3], frame[4]);
        let stream: [u8; 4] = frame[5..9].try_into().expect("9-byte header");
        if let Some(mut open) = self.open.take() {
            open.raw.extend_from_slice(&frame);
            // Only CONTINUATION frames of the same stream may follow an open block.
            if kind != CONTINUATION || stream != open.stream || open.raw.len() > MAX_BLOCK {
                return Err(open.raw);
            }
            open.fragment.extend_from_slice(&frame[FRAME_HEADER..]);
            if flags & END_HEADERS != 0 {
                return self.emit(open, out);
            }
            self.open = Some(open);
            return Ok(());
        }
        if kind != HEADERS {
            out.extend_from_slice(&frame);
            return Ok(());
        }
        let payload = &frame[FRAME_HEADER..];
        let mut body = payload;
        let mut pad = 0;
        if flags & PADDED != 0 {
            let Some((&p, rest)) = body.split_first() else {
                return Err(frame);
            };
            pad = usize::from(p);
            body = rest;
        }
        let mut priority = None;
        if flags & PRIORITY != 0 {
            if body.len() < 5 {
                return Err(frame);
            }
            priority = Some(body[..5].try_into().expect("5 bytes"));
            body = &body[5..];
        }
        if body.len() < pad {
            return Err(frame);
        }
        let fragment = body[..body.len() - pad].to_vec();
        let block = OpenBlock {
            stream,
            end_stream: flags & END_STREAM != 0,
            priority,
            fragment,
            raw: frame,
        };
        if flags & END_HEADERS != 0 {
            self.emit(block, out)
        } else {
            self.open = Some(block);
            Ok(())
        }
    }

    /// Decodes a whole header block and sends it on as literals, with a refused authority
    /// replaced; the block's raw frames if it cannot be decoded.
    fn emit(&mut self, block: OpenBlock, out: &mut Vec<u8>) -> Result<(), Vec<u8>> {
        // `hpack` follows any table size update; one beyond what the server allows is left
        // for `h2` to refuse.
        if table_size_updates(&block.fragment).is_none_or(|max| max > MAX_TABLE) {
            return Err(block.raw);
        }
        // `hpack` panics on some malformed blocks (a truncated table size update): that is
        // one more block this module cannot make sense of (the decoder is not used again).
        let decoder = &mut self.decoder;
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decoder.decode(&block.fragment)
        }));
        let Ok(Ok(headers)) = decoded else {
            return Err(block.raw);
        };
        let mut encoded = Vec::with_capacity(block.fragment.len() * 2);
        for (name, value) in &headers {
            let value = if name == b":authority" && refused(value) {
                LOCALHOST
            } else {
                value.as_slice()
            };
            push_literal(&mut encoded, name, value);
        }
        let mut first = Vec::new();
        let mut flags = 0;
        if block.end_stream {
            flags |= END_STREAM;
        }
        if let Some(p) = block.priority {
            flags |= PRIORITY;
            first.extend_from_slice(&p);
        }
        let room = MAX_FRAME - first.len();
        let (head, mut rest) = encoded.split_at(encoded.len().min(room));
        first.extend_from_slice(head);
        if rest.is_empty() {
            flags |= END_HEADERS;
        }
        push_frame(out, HEADERS, flags, block.stream, &first);
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(rest.len().min(MAX_FRAME));
            let flags = if tail.is_empty() { END_HEADERS } else { 0 };
            push_frame(out, CONTINUATION, flags, block.stream, chunk);
            rest = tail;
        }
        Ok(())
    }
}

/// The largest dynamic table size update at the start of a header block, where they must be
/// (RFC 7541 §4.2); 0 if there is none, `None` if one is cut short.
fn table_size_updates(mut block: &[u8]) -> Option<usize> {
    let mut largest = 0;
    while let Some(&first) = block.first() {
        if first & 0xe0 != 0x20 {
            break;
        }
        let (size, used) = read_int(block, 5)?;
        largest = largest.max(size);
        block = &block[used..];
    }
    Some(largest)
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1) and the octets it took; `None` if
/// it is cut short or does not fit a `usize`.
fn read_int(bytes: &[u8], n: u32) -> Option<(usize, usize)> {
    let max = (1usize << n) - 1;
    let mut value = usize::from(*bytes.first()?) & max;
    if value < max {
        return Some((value, 1));
    }
    for (i, &b) in bytes[1..].iter().enumerate() {
        let shift = 7 * u32::try_from(i).ok()?;
        let part = usize::from(b & 0x7f).checked_shl(shift)?;
        if part >> shift != usize::from(b & 0x7f) {
            return None;
        }
        value = value.checked_add(part)?;
        if b & 0x80 == 0 {
            return Some((value, i + 2));
        }
    }
    None
}

/// A client connection whose incoming bytes go through a [`Rewriter`]; outgoing bytes are
/// untouched.
pub struct Conn {
    inner: UnixStream,
    rewriter: Rewriter,
    ready: Vec<u8>,
    ready_pos: usize,
}

impl Conn {
    /// Wraps an accepted connection.
    pub fn new(inner: UnixStream) -> Conn {
        Conn {
            inner,
            rewriter: Rewriter::default(),
            ready: Vec::new(),
            ready_pos: 0,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_pos < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.ready_pos);
                buf.put_slice(&this.ready[this.ready_pos..this.ready_pos + n]);
                this.ready_pos += n;
                return Poll::Ready(Ok(()));
            }
            let mut raw = [0u8; 8192];
            let mut raw_buf = ReadBuf::new(&mut raw);
            match Pin::new(&mut this.inner).poll_read(cx, &mut raw_buf) {
                Poll::Ready(Ok(())) => {
                    let got = raw_buf.filled();
                    if got.is_empty() {
                        return Poll::Ready(Ok(())); // end of stream
                    }
                    this.ready = this.rewriter.feed(got);
                    this.ready_pos = 0;
                }
                other => return other,
            }
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = <UnixStream as tonic::transport::server::Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    /// A client's connection start and one request's HEADERS (encoded with a dynamic table,
    /// as clients do), split in `parts`.
    fn request(encoder: &mut hpack::Encoder<'_>, stream: u8, authority: &[u8]) -> Vec<u8> {
        let headers: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", b"/eclat.v1.Eclat/List"),
            (b":authority", authority),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ];
        let block = encoder.encode(headers);
        let mut out = Vec::new();
        push_frame(&mut out, HEADERS, END_HEADERS, [0, 0, 0, stream], &block);
        out
    }

    fn decode_requests(bytes: &[u8]) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
        assert_eq!(&bytes[..PREFACE_LEN], PREFACE);
        let mut d = hpack::Decoder::new();
        let mut rest = &bytes[PREFACE_LEN..];
        let mut blocks = Vec::new();
        let mut block = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
            let (kind, flags) = (rest[3], rest[4]);
            let payload = &rest[FRAME_HEADER..FRAME_HEADER + len];
            if kind == HEADERS || kind == CONTINUATION {
                block.extend_from_slice(payload);
                if flags & END_HEADERS != 0 {
                    blocks.push(d.decode(&block).expect("a valid block"));
                    block.clear();
                }
            }
            rest = &rest[FRAME_HEADER + len..];
        }
        blocks
    }

    #[test]
    fn a_percent_encoded_authority_becomes_localhost_and_the_rest_is_kept() {
        let mut enc = hpack::Encoder::new();
        let mut input = PREFACE.to_vec();
        // SETTINGS (empty), passed as is.
        push_frame(&mut input, 0x4, 0, [0; 4], &[]);
        input.extend(request(&mut enc, 1, b"tmp%2Fdir%2Feclatd.sock"));
        // The second request refers to the first one's entries in the dynamic table.
        input.extend(request(&mut enc, 3, b"tmp%2Fdir%2Feclatd.sock"));
        input.extend(request(&mut enc, 5, b"localhost:50051"));
        // Byte by byte: frames split anywhere still come out whole.
        let mut r = Rewriter::default();
        let mut out = Vec::new();
        for b in &input {
            out.extend(r.feed(std::slice::from_ref(b)));
        }
        assert!(!r.passthrough);
        let blocks = decode_requests(&out);
        assert_eq!(blocks.len(), 3);
        let authority = |b: &Vec<(Vec<u8>, Vec<u8>)>| {
            b.iter()
                .find(|(n, _)| n == b":authority")
                .map(|(_, v)| v.clone())
        };
        assert_eq!(authority(&blocks[0]).as_deref(), Some(&b"localhost"[..]));
        assert_eq!(authority(&blocks[1]).as_deref(), Some(&b"localhost"[..]));
        assert_eq!(
            authority(&blocks[2]).as_deref(),
            Some(&b"localhost:50051"[..])
        );
        assert!(blocks[1]
            .iter()
            .any(|(n, v)| n == b":path" && v == b"/eclat.v1.Eclat/List"));
        assert_eq!(blocks[0].len(), 6);
    }

    #[test]
    fn padding_priority_and_continuations_are_understood() {
        let mut enc = hpack::Encoder::new();
        let block = enc.encode(vec![
            (&b":method"[..], &b"POST"[..]),
            (&b":authority"[..], &b"a%2Fb"[..]),
        ]);
        let (a, b) = block.split_at(3);
        let mut payload = vec![2u8]; // pad length
        payload.extend_from_slice(&[0, 0, 0, 0, 16]); // priority
        payload.extend_from_slice(a);
        payload.extend_from_slice(&[0, 0]); // padding
        let mut input = PREFACE.to_vec();
        push_frame(
            &mut input,
            HEADERS,
            PADDED | PRIORITY | END_STREAM,
            [0, 0, 0, 1],
            &payload,
        );
        push_frame(&mut input, CONTINUATION, END_HEADERS, [0, 0, 0, 1], b);
        let out = Rewriter::default().feed(&input);
        // One HEADERS frame, priority and END_STREAM kept, padding gone.
        assert_eq!(out[PREFACE_LEN + 3], HEADERS);
        assert_eq!(out[PREFACE_LEN + 4], PRIORITY | END_STREAM | END_HEADERS);
        let blocks = decode_requests(&{
            let mut v = out.clone();
            // Drop the priority bytes for the plain decoder above.
            v.drain(PREFACE_LEN + FRAME_HEADER..PREFACE_LEN + FRAME_HEADER + 5);
            let len =
                (u32::from_be_bytes([0, v[PREFACE_LEN], v[PREFACE_LEN + 1], v[PREFACE_LEN + 2]])
                    - 5)
                .to_be_bytes();
            v[PREFACE_LEN..PREFACE_LEN + 3].copy_from_slice(&len[1..]);
            v
        });
        assert_eq!(
            blocks[0][1],
            (b":authority".to_vec(), b"localhost".to_vec())
        );
    }

    #[test]
    fn what_cannot_be_parsed_passes_untouched() {
        let mut input = PREFACE.to_vec();
        // A HEADERS block that is not HPACK.
        push_frame(
            &mut input,
            HEADERS,
            END_HEADERS,
            [0, 0, 0, 1],
            &[0xff, 0xff, 0xff],
        );
        push_frame(&mut input, 0x0, 0, [0, 0, 0, 1], b"data");
        let mut r = Rewriter::default();
        assert_eq!(r.feed(&input), input);
        assert!(r.passthrough);
        assert_eq!(r.feed(b"anything"), b"anything");
    }

    #[test]
    fn a_block_that_cannot_be_decoded_passes_with_its_earlier_frames() {
        let mut input = PREFACE.to_vec();
        push_frame(&mut input, HEADERS, 0, [0, 0, 0, 1], &[0xff]);
        push_frame(
            &mut input,
            CONTINUATION,
            END_HEADERS,
            [0, 0, 0, 1],
            &[0xff, 0xff],
        );
        let mut r = Rewriter::default();
        assert_eq!(r.feed(&input), input);
        assert!(r.passthrough);
    }

    #[test]
    fn an_endless_header_block_is_not_held_back() {
        let mut r = Rewriter::default();
        let mut sent = r.feed(PREFACE);
        let mut input = PREFACE.to_vec();
        let mut frame = Vec::new();
        push_frame(&mut frame, HEADERS, 0, [0, 0, 0, 1], &[0x82]);
        input.extend_from_slice(&frame);
        sent.extend(r.feed(&frame));
        let chunk = vec![0x82u8; MAX_FRAME];
        while !r.passthrough {
            let mut frame = Vec::new();
            push_frame(&mut frame, CONTINUATION, 0, [0, 0, 0, 1], &chunk);
            input.extend_from_slice(&frame);
            sent.extend(r.feed(&frame));
            assert!(input.len() < 2 * MAX_BLOCK, "still held back");
        }
        // Everything the client sent went on, unchanged, for `h2` to refuse.
        assert_eq!(sent, input);
    }

    #[test]
    fn a_table_larger_than_the_server_allows_passes_untouched() {
        let mut block = Vec::new();
        push_int(&mut block, 0x20, 5, 1 << 20);
        block.push(0x82); // :method GET
        let mut input = PREFACE.to_vec();
        push_frame(&mut input, HEADERS, END_HEADERS, [0, 0, 0, 1], &block);
        let mut r = Rewriter::default();
        assert_eq!(r.feed(&input), input);
        assert!(r.passthrough);
        // Within the limit it is decoded and re-encoded.
        let mut block = Vec::new();
        push_int(&mut block, 0x20, 5, MAX_TABLE);
        block.push(0x82);
        let mut input = PREFACE.to_vec();
        push_frame(&mut input, HEADERS, END_HEADERS, [0, 0, 0, 1], &block);
        let mut r = Rewriter::default();
        assert_ne!(r.feed(&input), input);
        assert!(!r.passthrough);
    }

    #[test]
    fn hpack_integers_read_back() {
        for value in [0usize, 30, 31, 127, 128, 4096, 1 << 20, usize::MAX] {
            let mut out = Vec::new();
            push_int(&mut out, 0x20, 5, value);
            out.push(0xaa);
            assert_eq!(read_int(&out, 5), Some((value, out.len() - 1)), "{value}");
        }
        assert_eq!(read_int(&[0x3f, 0x80], 5), None);
        assert_eq!(
            read_int(
                &[0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                5
            ),
            None
        );
    }

    #[test]
    fn a_truncated_table_size_update_passes_untouched() {
        // A dynamic table size update whose integer needs more octets than the block has:
        // `hpack`'s decoder unwraps it.
        let mut input = PREFACE.to_vec();
        push_frame(&mut input, HEADERS, END_HEADERS, [0, 0, 0, 1], &[0x3f]);
        let mut r = Rewriter::default();
        assert_eq!(r.feed(&input), input);
        assert!(r.passthrough);
    }
}

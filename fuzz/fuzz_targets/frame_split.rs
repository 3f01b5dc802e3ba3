//! Any bytes, cut anywhere: the incremental splitter finds the same frames (header bytes,
//! payload bytes, ends) as a whole-buffer decode, and the same error at the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_core::frame::split::{FrameSplitter, Piece};
use switchyard_core::{FrameHeader, Parsed};

/// Each frame's header bytes and payload, and the error that ended the stream, if any.
type Frames = (
    Vec<(Vec<u8>, Vec<u8>)>,
    Option<switchyard_core::ProtocolError>,
);

fn whole(mut bytes: &[u8]) -> Frames {
    let mut frames = Vec::new();
    loop {
        match FrameHeader::decode(bytes) {
            Ok(Parsed::Complete(header, len)) => {
                let Some(end) = usize::try_from(header.payload_len)
                    .ok()
                    .and_then(|n| n.checked_add(len))
                    .filter(|&end| end <= bytes.len())
                else {
                    return (frames, None);
                };
                frames.push((bytes[..len].to_vec(), bytes[len..end].to_vec()));
                bytes = &bytes[end..];
            }
            Ok(Parsed::Partial) => return (frames, None),
            Err(error) => return (frames, Some(error)),
        }
    }
}

fn split(chunks: &[&[u8]]) -> Frames {
    let mut splitter = FrameSplitter::new();
    let mut frames = Vec::new();
    let mut current: Option<(Vec<u8>, Vec<u8>)> = None;
    for chunk in chunks {
        let mut chunk = *chunk;
        while let Some(piece) = splitter.next(&mut chunk) {
            match piece {
                Ok(Piece::Header(raw)) => {
                    assert!(current.is_none(), "a header inside a frame");
                    // The bytes reported are exactly the header they decode to.
                    assert_eq!(
                        FrameHeader::decode(raw.as_bytes()),
                        Ok(Parsed::Complete(*raw.header(), raw.as_bytes().len()))
                    );
                    current = Some((raw.as_bytes().to_vec(), Vec::new()));
                }
                Ok(Piece::Payload(bytes)) => current
                    .as_mut()
                    .expect("payload in a frame")
                    .1
                    .extend_from_slice(bytes),
                Ok(Piece::End) => frames.push(current.take().expect("an end in a frame")),
                Err(error) => return (frames, Some(error)),
            }
        }
        assert!(chunk.is_empty(), "the splitter leaves no byte unread");
    }
    (frames, None)
}

fuzz_target!(|input: (u16, &[u8])| {
    let (cut, data) = input;
    let expected = whole(data);
    let cut = usize::from(cut).min(data.len());
    let (a, b) = data.split_at(cut);
    assert_eq!(split(&[data]), expected);
    assert_eq!(split(&[a, b]), expected);
    if data.len() <= 512 {
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(split(&bytes), expected);
    }
});

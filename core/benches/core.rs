//! Criterion benches of the core's hot paths. Compare each against its ceiling in the same
//! run: masking against a memcpy of the same size, UTF-8 validation against `str::from_utf8`.
//!
//! Run: `cargo bench -p switchyard-core --features std --bench core` (`std` turns on the
//! runtime-detected SIMD UTF-8 validation the server uses).
// `criterion_group!` defines undocumented public functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use switchyard_core::connection::{Connection, DataKind, Event};
use switchyard_core::frame::mask::{apply_mask, apply_mask_reference};
use switchyard_core::handshake::AcceptKey;
use switchyard_core::utf8::Utf8Validator;
use switchyard_core::{FrameHeader, Limits, OpCode};

const SIZES: [usize; 4] = [16, 1024, 64 * 1024, 1024 * 1024];

fn accept_key(c: &mut Criterion) {
    c.bench_function("accept_key", |b| {
        b.iter(|| AcceptKey::from_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ==")))
    });
}

fn header(c: &mut Criterion) {
    let mut group = c.benchmark_group("header");
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::BINARY,
        mask: Some([1, 2, 3, 4]),
        payload_len: 70_000,
    };
    let mut bytes = [0u8; 14];
    let n = header.encode(&mut bytes).unwrap();
    group.bench_function("decode", |b| {
        b.iter(|| FrameHeader::decode(black_box(&bytes[..n])))
    });
    group.bench_function("encode", |b| {
        b.iter(|| {
            let mut out = [0u8; 14];
            black_box(&header).encode(&mut out).unwrap()
        })
    });
    group.finish();
}

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for size in SIZES {
        let src = vec![0xA5u8; size];
        let mut buf = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("memcpy", size), &size, |b, _| {
            b.iter(|| buf.copy_from_slice(black_box(&src)))
        });
        group.bench_with_input(BenchmarkId::new("apply_mask", size), &size, |b, _| {
            b.iter(|| apply_mask(black_box(&mut buf), [1, 2, 3, 4], 1))
        });
        group.bench_with_input(BenchmarkId::new("reference", size), &size, |b, _| {
            b.iter(|| apply_mask_reference(black_box(&mut buf), [1, 2, 3, 4], 1))
        });
    }
    group.finish();
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    for size in [1024usize, 64 * 1024] {
        let text: String = "WebSocket — ünïcödé ✓ 😀 "
            .chars()
            .cycle()
            .take(size)
            .collect();
        let bytes = text.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("validator", size), &size, |b, _| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(bytes)).unwrap();
                v.finish().unwrap()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("validator_in_1k_pieces", size),
            &size,
            |b, _| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    for piece in black_box(bytes).chunks(1000) {
                        v.feed(piece).unwrap();
                    }
                    v.finish().unwrap()
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("std_from_utf8", size), &size, |b, _| {
            b.iter(|| std::str::from_utf8(black_box(bytes)).is_ok())
        });
    }
    group.finish();
}

fn receive_fragmented(c: &mut Criterion) {
    let mut group = c.benchmark_group("receive");
    // 64 KiB of text in 64 fragments of 1 KiB, masked, as a client sends it.
    let mut client = Connection::client(Limits::DEFAULT, || [9, 8, 7, 6]);
    let piece = "abcdefghijklmnop".repeat(64);
    for i in 0..64 {
        client
            .send_fragment(DataKind::Text, piece.as_bytes(), i == 63)
            .unwrap();
    }
    let wire = client.poll_transmit().to_vec();
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("fragmented_text_64x1KiB", |b| {
        let mut server = Connection::server(Limits::DEFAULT);
        b.iter(|| {
            server.receive_data(black_box(&wire)).unwrap();
            match server.poll_event() {
                Some(Event::Message(m)) => assert_eq!(m.len(), 65536),
                other => panic!("{other:?}"),
            }
        })
    });
    let mut client = Connection::client(Limits::DEFAULT, || [9, 8, 7, 6]);
    client.send_binary(&[7u8; 16]).unwrap();
    let small = client.poll_transmit().to_vec();
    group.throughput(Throughput::Elements(1));
    group.bench_function("binary_16B", |b| {
        let mut server = Connection::server(Limits::DEFAULT);
        b.iter(|| {
            server.receive_data(black_box(&small)).unwrap();
            black_box(server.poll_event())
        })
    });
    group.finish();
}

/// One 64 KiB masked message arriving in 16 KiB reads: copied in by `receive_data`, or read
/// straight into the lent read buffer (the copy into it stands in for the kernel's).
fn receive_in_place(c: &mut Criterion) {
    let mut group = c.benchmark_group("receive");
    let mut client = Connection::client(Limits::DEFAULT, || [9, 8, 7, 6]);
    client.send_binary(&[5u8; 65536]).unwrap();
    let mut wire = Vec::new();
    loop {
        let piece = client.poll_transmit();
        if piece.is_empty() {
            break;
        }
        wire.extend_from_slice(piece);
        let n = piece.len();
        client.consume_transmit(n);
    }
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("binary_64KiB_copied_in_16KiB_pieces", |b| {
        let mut server = Connection::server(Limits::DEFAULT);
        b.iter(|| {
            for piece in wire.chunks(16 * 1024) {
                server.receive_data(black_box(piece)).unwrap();
            }
            black_box(server.poll_event())
        })
    });
    group.bench_function("binary_64KiB_read_in_place_in_16KiB_reads", |b| {
        let mut server = Connection::server(Limits::DEFAULT);
        b.iter(|| {
            let mut rest = &wire[..];
            while !rest.is_empty() {
                let mut buf = server.read_buffer();
                let n = rest.len().min(16 * 1024).min(buf.capacity());
                buf.extend_from_slice(black_box(&rest[..n]));
                rest = &rest[n..];
                server.receive_buffer(buf).unwrap();
            }
            let message = black_box(server.poll_event());
            // The read that finds nothing, as a shell's next read would.
            let nothing = server.read_buffer();
            server.receive_buffer(nothing).unwrap();
            message
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    accept_key,
    header,
    masking,
    utf8,
    receive_fragmented,
    receive_in_place
);
criterion_main!(benches);

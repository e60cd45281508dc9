//! Golden byte vectors for every record type, operation type and value tag (the same vectors
//! are in `PROTOCOL.md`). They pin this crate's layout: a correction from the full [MS-PSOM]
//! text or a capture changes `src/codec.rs` and these vectors together.

use ocs_psom::codec::FILETIME_UNIX_EPOCH;
use ocs_psom::record::{Operation, Record, RpcKind, Status};
use ocs_psom::value::{MarshalLimits, Value};

fn bytes(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn records() {
    let cases: Vec<(Record<'static>, &str)> = vec![
        (
            Record::Close {
                reason: 3,
                text: "expired",
            },
            "00 09 00 00 00 03 00 65 78 70 69 72 65 64",
        ),
        (
            Record::SetChannel { channel: 1 },
            "04 04 00 00 00 01 00 00 00",
        ),
        (Record::Break, "06 00 00 00 00"),
        (
            Record::RpcMessage {
                body: &[0x86, 0x68, 0, 0, 0, 1],
                offset: 5,
            },
            "16 06 00 00 00 86 68 00 00 00 01",
        ),
        (
            Record::RpcOpen {
                channel: 0,
                conn_mgr: 1,
                version: 1,
            },
            "37 0a 00 00 00 00 00 00 00 01 00 00 00 01 00",
        ),
    ];
    for (record, hex) in cases {
        let wire = bytes(hex);
        let mut out = Vec::new();
        record.encode(&mut out);
        assert_eq!(out, wire, "{record:?}");
        assert_eq!(
            Record::decode(&wire, 1 << 20, 0).unwrap(),
            Status::Complete(record, wire.len())
        );
        for cut in 0..wire.len() {
            assert_eq!(
                Record::decode(&wire[..cut], 1 << 20, 0).unwrap(),
                Status::Partial,
                "{record:?} cut at {cut}"
            );
        }
    }
}

#[test]
fn operations() {
    let cases = vec![
        (
            Operation::ConnectChild {
                parent: 2,
                connect: true,
                child: 104,
                interface: 4,
            },
            "84 02 00 00 00 01 68 00 00 00 04 00",
        ),
        (
            Operation::ConnectChild {
                parent: 2,
                connect: false,
                child: 104,
                interface: 4,
            },
            "84 02 00 00 00 00 68 00 00 00 04 00",
        ),
        (
            Operation::OpenClose {
                proxy: 104,
                open: true,
            },
            "86 68 00 00 00 01",
        ),
        (
            Operation::Rpc {
                proxy: 104,
                kind: RpcKind::Call,
                call: 7,
                method: 2,
                args: vec![Value::U32(3)],
            },
            "96 68 00 00 00 00 07 00 00 00 02 00 01 00 07 03 00 00 00",
        ),
        (
            Operation::Rpc {
                proxy: -104,
                kind: RpcKind::Result,
                call: 7,
                method: 2,
                args: vec![],
            },
            "96 98 ff ff ff 01 07 00 00 00 02 00 00 00",
        ),
        (
            Operation::Rpc {
                proxy: -104,
                kind: RpcKind::Error,
                call: 7,
                method: 0,
                args: vec![Value::U16(4), Value::String("no".into())],
            },
            "96 98 ff ff ff 02 07 00 00 00 00 00 02 00 06 04 00 0a 02 00 00 00 6e 6f",
        ),
    ];
    for (op, hex) in cases {
        let wire = bytes(hex);
        let mut out = Vec::new();
        op.encode(&mut out);
        assert_eq!(out, wire, "{op:?}");
        assert_eq!(
            Operation::decode(&wire, 0, &MarshalLimits::default()).unwrap(),
            op
        );
    }
}

#[test]
fn values() {
    let cases = vec![
        (Value::Null, "00"),
        (Value::I8(-2), "01 fe"),
        (Value::I16(-2), "02 fe ff"),
        (Value::I32(-2), "03 fe ff ff ff"),
        (Value::I64(-2), "04 fe ff ff ff ff ff ff ff"),
        (Value::U8(200), "05 c8"),
        (Value::U16(0x1234), "06 34 12"),
        (Value::U32(0x1234_5678), "07 78 56 34 12"),
        (Value::U64(1), "08 01 00 00 00 00 00 00 00"),
        (Value::Bool(true), "09 01"),
        (Value::String("hé".into()), "0a 03 00 00 00 68 c3 a9"),
        (Value::Blob(vec![1, 2]), "0b 02 00 00 00 01 02"),
        (
            Value::Array(vec![Value::U8(1), Value::Null]),
            "0c 02 00 00 00 05 01 00",
        ),
        (Value::Struct(vec![Value::Bool(false)]), "0d 01 00 09 00"),
        (
            Value::Guid([0x11; 16]),
            "0e 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11",
        ),
        // FILETIME of 1970-01-01: 116444736000000000 = 0x019DB1DED53E8000.
        (
            Value::Time(FILETIME_UNIX_EPOCH),
            "0f 00 80 3e d5 de b1 9d 01",
        ),
        (Value::Object(-104), "10 98 ff ff ff"),
    ];
    for (v, hex) in cases {
        let wire = bytes(hex);
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(out, wire, "{v:?}");
        // Carried as the single argument of an RPC, it decodes back.
        let op = Operation::Rpc {
            proxy: 1,
            kind: RpcKind::Call,
            call: 0,
            method: 1,
            args: vec![v.clone()],
        };
        let mut body = Vec::new();
        op.encode(&mut body);
        assert_eq!(
            Operation::decode(&body, 0, &MarshalLimits::default()).unwrap(),
            op
        );
    }
}

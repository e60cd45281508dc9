//! Round trips for every record, operation and marshaled type; arbitrary bytes never panic.

use ocs_psom::fuzzing;
use ocs_psom::record::{Decoder, Operation, Record, RpcKind, Status};
use ocs_psom::value::{MarshalLimits, Value};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i8>().prop_map(Value::I8),
        any::<i16>().prop_map(Value::I16),
        any::<i32>().prop_map(Value::I32),
        any::<i64>().prop_map(Value::I64),
        any::<u8>().prop_map(Value::U8),
        any::<u16>().prop_map(Value::U16),
        any::<u32>().prop_map(Value::U32),
        any::<u64>().prop_map(Value::U64),
        any::<bool>().prop_map(Value::Bool),
        ".{0,20}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Blob),
        any::<[u8; 16]>().prop_map(Value::Guid),
        any::<u64>().prop_map(Value::Time),
        any::<i32>().prop_map(Value::Object),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(inner, 0..8).prop_map(Value::Struct),
        ]
    })
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        (any::<i32>(), any::<bool>(), any::<i32>(), any::<u16>()).prop_map(
            |(parent, connect, child, interface)| {
                Operation::ConnectChild {
                    parent,
                    connect,
                    child,
                    interface,
                }
            }
        ),
        (any::<i32>(), any::<bool>())
            .prop_map(|(proxy, open)| Operation::OpenClose { proxy, open }),
        (
            any::<i32>(),
            0u8..3,
            any::<u32>(),
            any::<u16>(),
            prop::collection::vec(value(), 0..6)
        )
            .prop_map(|(proxy, k, call, method, args)| Operation::Rpc {
                proxy,
                kind: [RpcKind::Call, RpcKind::Result, RpcKind::Error][usize::from(k)],
                call,
                method,
                args,
            }),
    ]
}

proptest! {
    #[test]
    fn operations_round_trip_through_records(ops in prop::collection::vec(operation(), 1..6), cut in 1usize..64) {
        let mut wire = Vec::new();
        for op in &ops {
            op.encode_record(&mut wire);
        }
        let mut d = Decoder::new(1 << 20);
        let mut got = Vec::new();
        for chunk in wire.chunks(cut) {
            d.push(chunk);
            while let Some(r) = d.next_record().unwrap() {
                let Record::RpcMessage { body, offset } = r else { panic!("{r:?}") };
                got.push(Operation::decode(body, offset, &MarshalLimits::default()).unwrap());
            }
        }
        prop_assert_eq!(got, ops);
    }

    #[test]
    fn records_round_trip(reason in any::<u16>(), text in ".{0,30}", channel in any::<u32>(), conn_mgr in any::<i32>(), version in any::<u16>()) {
        for r in [
            Record::Close { reason, text: &text },
            Record::SetChannel { channel },
            Record::Break,
            Record::RpcOpen { channel, conn_mgr, version },
        ] {
            let mut b = Vec::new();
            r.encode(&mut b);
            prop_assert_eq!(Record::decode(&b, 1 << 20, 0).unwrap(), Status::Complete(r, b.len()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Record::decode(&data, 1 << 10, 0);
        let _ = Operation::decode(&data, 0, &MarshalLimits::default());
        fuzzing::psom_stream(&data);
    }

    #[test]
    fn mutated_sessions_never_panic(at in 0usize..400, byte in any::<u8>()) {
        // A real client's opening bytes with one byte changed, into an authenticated server.
        let mut data = vec![1u8];
        let mut c = ocs_psom::client::Client::new(
            std::time::Instant::now(),
            ocs_psom::client::Credentials { conference_id: "FUZZ0001".into(), auth_id: "1".into(), key: b"k".to_vec(), name: "f".into() },
        );
        let mut buf = [0u8; 4096];
        let n = c.poll_transmit(&mut buf).unwrap().unwrap();
        data.extend_from_slice(&buf[..n]);
        let mut op = Vec::new();
        Operation::Rpc { proxy: 2, kind: RpcKind::Call, call: 5, method: 1, args: vec![Value::String("x".into()), Value::Array(vec![Value::U8(1)])] }.encode_record(&mut op);
        data.extend(op);
        let i = at % data.len();
        data[i] = byte;
        fuzzing::psom_stream(&data);
    }
}

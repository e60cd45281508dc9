//! Every fault in received bytes is an error naming the cause and its stream offset; every
//! limit holds; a streaming decoder keeps the records before a fault.

use ocs_psom::Error;
use ocs_psom::record::{Decoder, Operation, Record, Status};
use ocs_psom::value::MarshalLimits;

fn op(body: &[u8]) -> Result<Operation, Error> {
    Operation::decode(body, 100, &MarshalLimits::default())
}

#[test]
fn record_faults() {
    assert_eq!(
        Record::decode(&[0x99], 10, 7),
        Err(Error::UnknownRecord {
            kind: 0x99,
            offset: 7
        })
    );
    assert_eq!(
        Record::decode(&[0x16, 11, 0, 0, 0], 10, 0),
        Err(Error::RecordTooLarge {
            len: 11,
            limit: 10,
            offset: 0
        })
    );
    assert_eq!(
        Record::decode(&[0x04, 3, 0, 0, 0, 1, 2, 3], 10, 0),
        Err(Error::Truncated {
            what: "SetChannel channel",
            offset: 5
        })
    );
    assert_eq!(
        Record::decode(&[0x06, 1, 0, 0, 0, 9], 10, 0),
        Err(Error::TrailingBytes {
            what: "record",
            offset: 5
        })
    );
    assert_eq!(
        Record::decode(&[0x00, 3, 0, 0, 0, 1, 0, 0xFF], 10, 0),
        Err(Error::InvalidValue {
            what: "UTF-8 close text",
            offset: 7
        })
    );
}

#[test]
fn operation_faults() {
    assert_eq!(
        op(&[0x42]),
        Err(Error::UnknownOperation {
            code: 0x42,
            offset: 100
        })
    );
    assert_eq!(
        op(&[0x86, 1, 0, 0, 0, 2]),
        Err(Error::InvalidValue {
            what: "open flag",
            offset: 105
        })
    );
    assert_eq!(
        op(&[0x86, 1, 0, 0, 0, 1, 0]),
        Err(Error::TrailingBytes {
            what: "operation",
            offset: 106
        })
    );
    let rpc = |args: &[u8], count: u16| {
        let mut b = vec![0x96, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(args);
        b
    };
    assert_eq!(
        op(&rpc(&[0x77], 1)),
        Err(Error::UnknownTag {
            tag: 0x77,
            offset: 114
        })
    );
    assert_eq!(
        op(&rpc(&[0x09, 2], 1)),
        Err(Error::InvalidValue {
            what: "bool",
            offset: 115
        })
    );
    assert_eq!(
        op(&rpc(&[0x0a, 1, 0, 0, 0, 0xFF], 1)),
        Err(Error::InvalidValue {
            what: "UTF-8 string",
            offset: 119
        })
    );
    assert_eq!(
        op(&rpc(&[0x0b, 9, 0, 0, 0, 1], 1)),
        Err(Error::Truncated {
            what: "blob",
            offset: 119
        })
    );
    assert_eq!(
        op(&rpc(&[], 1)),
        Err(Error::Truncated {
            what: "value tag",
            offset: 114
        })
    );
    // Nesting and counts are bounded.
    let deep: Vec<u8> = std::iter::repeat_n([0x0d, 1, 0], 17)
        .flatten()
        .chain([0])
        .collect();
    assert_eq!(
        op(&rpc(&deep, 1)),
        Err(Error::TooDeep {
            limit: 16,
            offset: 114 + 16 * 3
        })
    );
    let limits = MarshalLimits {
        max_depth: 16,
        max_values: 3,
    };
    let many = rpc(&[0, 0, 0, 0], 4);
    assert_eq!(
        Operation::decode(&many, 0, &limits),
        Err(Error::TooMany {
            what: "values",
            limit: 3,
            offset: 17
        })
    );
    // A huge announced array count does not allocate ahead of the bytes.
    assert_eq!(
        op(&rpc(&[0x0c, 0xFF, 0xFF, 0xFF, 0xFF], 1)),
        Err(Error::Truncated {
            what: "value tag",
            offset: 119
        })
    );
}

#[test]
fn stream_decoder_keeps_what_came_before_a_fault() {
    let mut d = Decoder::new(64);
    let mut wire = Vec::new();
    Record::SetChannel { channel: 1 }.encode(&mut wire);
    Record::Break.encode(&mut wire);
    wire.extend_from_slice(&[0x16, 200, 0, 0, 0]);
    for chunk in wire.chunks(3) {
        d.push(chunk);
    }
    assert_eq!(
        d.next_record().unwrap(),
        Some(Record::SetChannel { channel: 1 })
    );
    assert_eq!(d.next_record().unwrap(), Some(Record::Break));
    let e = Error::RecordTooLarge {
        len: 200,
        limit: 64,
        offset: 14,
    };
    assert_eq!(d.next_record(), Err(e));
    assert_eq!(d.next_record(), Err(e), "the same error from then on");
    assert_eq!(Record::decode(&[], 64, 0).unwrap(), Status::Partial);
}

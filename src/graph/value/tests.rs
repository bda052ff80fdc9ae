use super::*;
use proptest::prelude::*;
use serde_json::json;
use std::error::Error as _;

/// BoltType's PartialEq says NaN != NaN and -0.0 == 0.0; the Debug text tells
/// both apart, which is what "lossless" needs.
fn assert_same(actual: &BoltType, expected: &BoltType) {
    assert_eq!(format!("{actual:?}"), format!("{expected:?}"));
}

/// Encodes, checks both the in-memory and the text round trip, and returns
/// the file text of the value.
fn round_trip(v: &BoltType) -> String {
    let encoded = encode(v).unwrap();
    assert_same(&decode(&encoded).unwrap(), v);
    let text = serde_json::to_string(&encoded).unwrap();
    let reread: Value = serde_json::from_str(&text).unwrap();
    assert_same(&decode(&reread).unwrap(), v);
    text
}

fn parse(text: &str) -> Result<BoltType> {
    decode(&serde_json::from_str(text).unwrap())
}

/// The whole error chain, as the binary's reporter prints it.
fn chain(err: &CodecError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn int(i: i64) -> BoltType {
    BoltType::Integer(BoltInteger::new(i))
}

fn float(f: f64) -> BoltType {
    BoltType::Float(BoltFloat::new(f))
}

fn string(s: &str) -> BoltType {
    BoltType::String(s.into())
}

fn list(items: Vec<BoltType>) -> BoltType {
    BoltType::List(BoltList::from(items))
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn hms(h: u32, m: u32, s: u32, nanos: u32) -> NaiveTime {
    NaiveTime::from_hms_nano_opt(h, m, s, nanos).unwrap()
}

fn offset(seconds: i32) -> FixedOffset {
    FixedOffset::east_opt(seconds).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> BoltType {
    BoltType::Date(ymd(y, m, d).into())
}

fn local_time(t: NaiveTime) -> BoltType {
    BoltType::LocalTime(t.into())
}

fn time(t: NaiveTime, offset_seconds: i32) -> BoltType {
    BoltType::Time((t, offset(offset_seconds)).into())
}

fn local_date_time(d: NaiveDate, t: NaiveTime) -> BoltType {
    BoltType::LocalDateTime(d.and_time(t).into())
}

fn date_time(d: NaiveDate, t: NaiveTime, offset_seconds: i32) -> BoltType {
    let dt = offset(offset_seconds)
        .from_local_datetime(&d.and_time(t))
        .unwrap();
    BoltType::DateTime(dt.into())
}

fn zoned(d: NaiveDate, t: NaiveTime, zone: &str) -> BoltType {
    BoltType::DateTimeZoneId((d.and_time(t), zone).into())
}

fn duration(months: i64, days: i64, seconds: i64, nanos: i64) -> BoltType {
    BoltType::Duration(BoltDuration::new(
        months.into(),
        days.into(),
        seconds.into(),
        nanos.into(),
    ))
}

fn tagged_value(type_name: &str, value: &str) -> String {
    format!(r#"{{"$type":"{type_name}","value":"{value}"}}"#)
}

#[test]
fn booleans_and_strings_stay_plain() {
    assert_eq!(
        round_trip(&BoltType::Boolean(BoltBoolean::new(true))),
        "true"
    );
    assert_eq!(round_trip(&string("")), r#""""#);
    assert_eq!(
        round_trip(&string("naïve \"quoted\" 日本")),
        r#""naïve \"quoted\" 日本""#
    );
}

#[test]
fn integers_keep_the_full_64_bit_range() {
    assert_eq!(round_trip(&int(0)), "0");
    assert_eq!(round_trip(&int(i64::MAX)), "9223372036854775807");
    assert_eq!(round_trip(&int(i64::MIN)), "-9223372036854775808");
}

#[test]
fn integers_beyond_64_bits_are_refused() {
    let err = parse("18446744073709551616").unwrap_err();
    assert_eq!(
        err.to_string(),
        "integer 18446744073709551616 does not fit a Neo4j Integer (64-bit)"
    );
    for literal in [
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
    ] {
        assert_eq!(
            parse(literal).unwrap_err(),
            CodecError::IntegerOutOfRange {
                literal: literal.into()
            }
        );
    }
    assert!(matches!(
        parse("1e400"),
        Err(CodecError::FloatOutOfRange { .. })
    ));
}

#[test]
fn finite_floats_always_show_a_fraction_or_exponent() {
    let cases = [
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (1e300, "1e+300"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (9007199254740993.0, "9007199254740992.0"),
    ];
    for (f, text) in cases {
        assert_eq!(round_trip(&float(f)), text, "{f:e}");
    }
    // 1.0 and 1 are different types in the file.
    assert_same(&parse("1.0").unwrap(), &float(1.0));
    assert_same(&parse("1").unwrap(), &int(1));
    assert_same(&parse("1e2").unwrap(), &float(100.0));
    assert_same(&parse("-0").unwrap(), &int(0));
}

#[test]
fn the_sign_of_negative_zero_survives() {
    let BoltType::Float(f) = parse(&round_trip(&float(-0.0))).unwrap() else {
        panic!("not a float");
    };
    assert!(f.value.is_sign_negative());
}

#[test]
fn non_finite_floats_are_tagged() {
    assert_eq!(round_trip(&float(f64::NAN)), tagged_value("Float", "NaN"));
    assert_eq!(
        round_trip(&float(f64::INFINITY)),
        tagged_value("Float", "Infinity")
    );
    assert_eq!(
        round_trip(&float(f64::NEG_INFINITY)),
        tagged_value("Float", "-Infinity")
    );
    let err = parse(&tagged_value("Float", "1.5")).unwrap_err();
    assert!(err.to_string().contains("plain numbers"), "{err}");
}

#[test]
fn bytes_are_standard_base64() {
    let bytes = |b: &[u8]| BoltType::Bytes(BoltBytes::new(b.to_vec().into()));
    assert_eq!(round_trip(&bytes(&[])), tagged_value("Bytes", ""));
    assert_eq!(
        round_trip(&bytes(&[0, 255, 1])),
        tagged_value("Bytes", "AP8B")
    );
    assert_eq!(
        round_trip(&bytes(&[0xfb, 0xff])),
        tagged_value("Bytes", "+/8=")
    );
    assert!(parse(&tagged_value("Bytes", "-_8")).is_err());
}

#[test]
fn dates() {
    assert_eq!(
        round_trip(&date(2024, 1, 2)),
        tagged_value("Date", "2024-01-02")
    );
    assert_eq!(
        round_trip(&date(1969, 12, 31)),
        tagged_value("Date", "1969-12-31")
    );
    assert_eq!(
        round_trip(&date(1066, 10, 14)),
        tagged_value("Date", "1066-10-14")
    );
    assert_eq!(
        round_trip(&date(9999, 12, 31)),
        tagged_value("Date", "9999-12-31")
    );
    assert_eq!(
        round_trip(&date(0, 1, 1)),
        tagged_value("Date", "0000-01-01")
    );
    assert_eq!(
        round_trip(&date(-1, 3, 1)),
        tagged_value("Date", "-0001-03-01")
    );
    assert_eq!(
        round_trip(&date(10000, 1, 1)),
        tagged_value("Date", "+10000-01-01")
    );
    for bad in [
        "2024-1-02",
        "2024-02-30",
        "24-01-02",
        "12024-01-01",
        "2024-01-02T00:00:00",
    ] {
        let err = parse(&tagged_value("Date", bad)).unwrap_err();
        assert!(
            err.to_string().contains("is not a valid Date"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn local_times_keep_nanoseconds() {
    let cases = [
        (hms(12, 0, 0, 1), "12:00:00.000000001"),
        (hms(0, 0, 0, 0), "00:00:00"),
        (hms(23, 59, 59, 999_999_999), "23:59:59.999999999"),
        (hms(12, 0, 0, 500_000_000), "12:00:00.500"),
        (hms(12, 0, 0, 120_000), "12:00:00.000120"),
    ];
    for (t, text) in cases {
        assert_eq!(round_trip(&local_time(t)), tagged_value("LocalTime", text));
    }
    assert_same(
        &parse(&tagged_value("LocalTime", "12:00:00.5")).unwrap(),
        &local_time(hms(12, 0, 0, 500_000_000)),
    );
    for bad in [
        "24:00:00",
        "12:00:60",
        "12:00",
        "12:00:00.",
        "12:00:00.1234567890",
        "12:00:00Z",
    ] {
        assert!(parse(&tagged_value("LocalTime", bad)).is_err(), "{bad}");
    }
}

#[test]
fn times_keep_their_offset() {
    let cases = [
        (time(hms(12, 0, 0, 0), 3600), "12:00:00+01:00"),
        (
            time(hms(12, 0, 0, 7), -(5 * 3600 + 1800)),
            "12:00:00.000000007-05:30",
        ),
        (time(hms(0, 0, 0, 0), 0), "00:00:00+00:00"),
        (time(hms(1, 2, 3, 0), 561), "01:02:03+00:09:21"),
        (time(hms(1, 2, 3, 0), 18 * 3600), "01:02:03+18:00"),
    ];
    for (t, text) in cases {
        assert_eq!(round_trip(&t), tagged_value("Time", text));
    }
    assert_same(
        &parse(&tagged_value("Time", "12:00:00Z")).unwrap(),
        &time(hms(12, 0, 0, 0), 0),
    );
    for bad in [
        "12:00:00",
        "12:00:00+1:00",
        "12:00:00+01:60",
        "12:00:00+24:00",
        "12:00:00+01:00[UTC]",
    ] {
        assert!(parse(&tagged_value("Time", bad)).is_err(), "{bad}");
    }
}

#[test]
fn local_date_times() {
    assert_eq!(
        round_trip(&local_date_time(ymd(2024, 1, 2), hms(3, 4, 5, 123_456_789))),
        tagged_value("LocalDateTime", "2024-01-02T03:04:05.123456789")
    );
    assert_eq!(
        round_trip(&local_date_time(
            ymd(1969, 12, 31),
            hms(23, 59, 59, 999_000_000)
        )),
        tagged_value("LocalDateTime", "1969-12-31T23:59:59.999")
    );
    assert!(parse(&tagged_value("LocalDateTime", "2024-01-02 03:04:05")).is_err());
    assert!(parse(&tagged_value("LocalDateTime", "2024-01-02T03:04:05Z")).is_err());
}

#[test]
fn date_times_with_an_offset() {
    let cases = [
        (
            date_time(ymd(2024, 1, 2), hms(3, 4, 5, 123_000_000), 3600),
            "2024-01-02T03:04:05.123+01:00",
        ),
        (
            date_time(ymd(1960, 6, 30), hms(23, 0, 0, 1), -8 * 3600),
            "1960-06-30T23:00:00.000000001-08:00",
        ),
        (
            date_time(ymd(9999, 12, 31), hms(23, 59, 59, 0), -14 * 3600),
            "9999-12-31T23:59:59-14:00",
        ),
    ];
    for (v, text) in cases {
        assert_eq!(round_trip(&v), tagged_value("DateTime", text));
    }
    assert_same(
        &parse(&tagged_value("DateTime", "2024-01-02T03:04:05Z")).unwrap(),
        &date_time(ymd(2024, 1, 2), hms(3, 4, 5, 0), 0),
    );
    let err = parse(&tagged_value("DateTime", "2024-01-02T03:04:05")).unwrap_err();
    assert!(err.to_string().contains("LocalDateTime"), "{err}");
}

#[test]
fn date_times_with_a_zone_keep_local_time_and_zone() {
    let cases = [
        (
            zoned(ymd(2024, 1, 2), hms(3, 4, 5, 123_000_000), "Europe/Paris"),
            "2024-01-02T03:04:05.123+01:00[Europe/Paris]",
        ),
        (
            zoned(ymd(2024, 7, 2), hms(3, 4, 5, 0), "Europe/Paris"),
            "2024-07-02T03:04:05+02:00[Europe/Paris]",
        ),
        (
            zoned(ymd(2024, 1, 15), hms(12, 0, 0, 0), "America/New_York"),
            "2024-01-15T12:00:00-05:00[America/New_York]",
        ),
        (
            zoned(
                ymd(2024, 7, 4),
                hms(12, 0, 0, 999_999_999),
                "America/New_York",
            ),
            "2024-07-04T12:00:00.999999999-04:00[America/New_York]",
        ),
        (
            zoned(ymd(1945, 8, 15), hms(0, 0, 0, 0), "Asia/Kolkata"),
            "1945-08-15T00:00:00+06:30[Asia/Kolkata]",
        ),
        (
            zoned(ymd(2024, 3, 31), hms(6, 0, 0, 0), "Asia/Kolkata"),
            "2024-03-31T06:00:00+05:30[Asia/Kolkata]",
        ),
        // Local mean time, before Paris adopted a standard offset.
        (
            zoned(ymd(1900, 1, 1), hms(0, 0, 0, 0), "Europe/Paris"),
            "1900-01-01T00:00:00+00:09:21[Europe/Paris]",
        ),
    ];
    for (v, text) in cases {
        assert_eq!(round_trip(&v), tagged_value("DateTime", text));
    }
}

#[test]
fn zoned_date_times_around_clock_changes() {
    // 01:30 happens twice on 2024-11-03 in New York; the earlier (daylight)
    // offset is written, and either is accepted since Bolt 4 carries only the
    // local time and the zone.
    let repeated = zoned(ymd(2024, 11, 3), hms(1, 30, 0, 0), "America/New_York");
    assert_eq!(
        round_trip(&repeated),
        tagged_value("DateTime", "2024-11-03T01:30:00-04:00[America/New_York]")
    );
    assert_same(
        &parse(&tagged_value(
            "DateTime",
            "2024-11-03T01:30:00-05:00[America/New_York]",
        ))
        .unwrap(),
        &repeated,
    );
    // 02:30 does not exist on 2024-03-10 in New York, so no offset is written.
    let skipped = zoned(ymd(2024, 3, 10), hms(2, 30, 0, 0), "America/New_York");
    assert_eq!(
        round_trip(&skipped),
        tagged_value("DateTime", "2024-03-10T02:30:00[America/New_York]")
    );
    let err = parse(&tagged_value(
        "DateTime",
        "2024-03-10T02:30:00-05:00[America/New_York]",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("skip"), "{err}");

    let err = parse(&tagged_value(
        "DateTime",
        "2024-07-02T03:04:05+01:00[Europe/Paris]",
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "DateTime value has an invalid \"value\": offset +01:00 is not the offset of \
         2024-07-02 03:04:05 in Europe/Paris (that is +02:00)"
    );
}

#[test]
fn the_later_offset_of_a_repeated_hour_is_written_when_the_server_gives_it() {
    let repeated = zoned(ymd(2024, 10, 27), hms(2, 30, 0, 0), "Europe/Paris");
    let plain = zoned(ymd(2024, 7, 2), hms(2, 30, 0, 0), "Europe/Paris");
    assert!(ambiguous_zoned(&repeated));
    assert!(!ambiguous_zoned(&plain));
    assert!(ambiguous_zoned(&list(vec![
        plain.clone(),
        repeated.clone()
    ])));
    assert!(!ambiguous_zoned(&date_time(
        ymd(2024, 10, 27),
        hms(2, 30, 0, 0),
        3600
    )));

    let mut map = BoltMap::new();
    map.put("a".into(), repeated.clone());
    map.put("l".into(), list(vec![plain.clone(), repeated.clone()]));
    let mut out = Vec::new();
    let resolved = vec![
        ("a".to_owned(), vec![Some(3600)]),
        ("l".to_owned(), vec![None, Some(3600)]),
    ];
    write_properties_resolved(&map, &mut out, &resolved).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"a":{"$type":"DateTime","value":"2024-10-27T02:30:00+01:00[Europe/Paris]"},"l":[{"$type":"DateTime","value":"2024-07-02T02:30:00+02:00[Europe/Paris]"},{"$type":"DateTime","value":"2024-10-27T02:30:00+01:00[Europe/Paris]"}]}"#
    );
    // Without the server's word, the earlier offset (the one the server
    // picks for a local time and zone) is written.
    let mut out = Vec::new();
    write_properties(&map, &mut out).unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("02:30:00+02:00[Europe/Paris]"));
    // An offset the zone never has there is refused, not written.
    let err = write_properties_resolved(&map, &mut Vec::new(), &[("a".into(), vec![Some(0)])])
        .unwrap_err();
    assert!(
        chain(&err).contains("+00:00 is not an offset"),
        "{}",
        chain(&err)
    );

    // Reading: only the later offset needs the server to build the value.
    let later: Value = serde_json::from_str(&tagged_value(
        "DateTime",
        "2024-10-27T02:30:00+01:00[Europe/Paris]",
    ))
    .unwrap();
    let earlier: Value = serde_json::from_str(&tagged_value(
        "DateTime",
        "2024-10-27T02:30:00+02:00[Europe/Paris]",
    ))
    .unwrap();
    assert!(needs_server_zone(&later));
    assert!(!needs_server_zone(&earlier));
    assert!(needs_server_zone(&json!([earlier, later])));
    assert!(!needs_server_zone(&json!(
        "2024-10-27T02:30:00+01:00[Europe/Paris]"
    )));
    assert_same(
        &zoned_text(&json!([earlier, later])).unwrap(),
        &list(vec![
            string("2024-10-27T02:30:00+02:00[Europe/Paris]"),
            string("2024-10-27T02:30:00+01:00[Europe/Paris]"),
        ]),
    );
}

#[test]
fn a_placeholder_for_a_type_this_client_cannot_read_is_refused_by_name() {
    // What Neo4j 2025.10+ sends a Bolt 4.4 client for a VECTOR value.
    let mut m = BoltMap::new();
    m.put("originalType".into(), string("VECTOR(3, FLOAT32)"));
    m.put("reason".into(), string("UNKNOWN_TYPE"));
    let mut props = BoltMap::new();
    props.put("embedding".into(), BoltType::Map(m));
    let err = write_properties(&props, &mut Vec::new()).unwrap_err();
    let text = chain(&err);
    assert!(text.contains("\"embedding\""), "{text}");
    assert!(text.contains("VECTOR(3, FLOAT32)"), "{text}");
    assert!(
        text.contains("not backed up rather than written wrong"),
        "{text}"
    );
    assert!(encode_properties(&props).is_err());
}

#[test]
fn zones_unknown_to_chrono_tz_are_kept_without_an_offset() {
    let v = zoned(ymd(2024, 1, 2), hms(3, 4, 5, 0), "Mars/Olympus_Mons");
    assert_eq!(
        round_trip(&v),
        tagged_value("DateTime", "2024-01-02T03:04:05[Mars/Olympus_Mons]")
    );
    assert_same(
        &parse(&tagged_value(
            "DateTime",
            "2024-01-02T03:04:05+07:00[Mars/Olympus_Mons]",
        ))
        .unwrap(),
        &v,
    );
    assert!(parse(&tagged_value("DateTime", "2024-01-02T03:04:05+01:00[]")).is_err());
    assert!(parse(&tagged_value("DateTime", "2024-01-02T03:04:05+01:00[UTC")).is_err());
}

#[test]
fn durations_keep_every_component() {
    assert_eq!(
        round_trip(&duration(1, 2, 3, 500_000_000)),
        r#"{"$type":"Duration","days":2,"months":1,"nanoseconds":500000000,"seconds":3,"value":"P1M2DT3.5S"}"#
    );
    assert_eq!(
        round_trip(&duration(-14, -3, -1, 999_999_999)),
        r#"{"$type":"Duration","days":-3,"months":-14,"nanoseconds":999999999,"seconds":-1,"value":"P-14M-3DT-0.000000001S"}"#
    );
    round_trip(&duration(0, 0, 0, 0));
    round_trip(&duration(i64::MIN, i64::MAX, i64::MIN, i64::MAX));

    // "value" is optional, but must agree when present.
    assert_same(
        &parse(r#"{"$type":"Duration","months":1,"days":2,"seconds":3,"nanoseconds":0}"#).unwrap(),
        &duration(1, 2, 3, 0),
    );
    let err = parse(
        r#"{"$type":"Duration","months":1,"days":2,"seconds":3,"nanoseconds":0,"value":"P1M"}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("disagrees"), "{err}");
    assert_eq!(
        parse(r#"{"$type":"Duration","months":1,"days":2,"seconds":3}"#).unwrap_err(),
        CodecError::MissingField {
            type_name: "Duration",
            field: "nanoseconds"
        }
    );
    let err = parse(r#"{"$type":"Duration","months":1.0,"days":2,"seconds":3,"nanoseconds":0}"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Duration value has an invalid \"months\": expected an integer, found 1.0"
    );
}

#[test]
fn points() {
    let cartesian = BoltType::Point2D(BoltPoint2D {
        sr_id: 7203.into(),
        x: BoltFloat::new(1.0),
        y: BoltFloat::new(2.0),
    });
    assert_eq!(
        round_trip(&cartesian),
        r#"{"$type":"Point","srid":7203,"x":1.0,"y":2.0}"#
    );
    let wgs84_3d = BoltType::Point3D(BoltPoint3D {
        sr_id: 4979.into(),
        x: BoltFloat::new(2.3522),
        y: BoltFloat::new(48.8566),
        z: BoltFloat::new(-35.5),
    });
    assert_eq!(
        round_trip(&wgs84_3d),
        r#"{"$type":"Point","srid":4979,"x":2.3522,"y":48.8566,"z":-35.5}"#
    );
    let odd = BoltType::Point3D(BoltPoint3D {
        sr_id: 9157.into(),
        x: BoltFloat::new(f64::NAN),
        y: BoltFloat::new(f64::NEG_INFINITY),
        z: BoltFloat::new(-0.0),
    });
    round_trip(&odd);
    // Coordinates are always floats, so an integer literal reads as one.
    assert_same(
        &parse(r#"{"$type":"Point","srid":7203,"x":1,"y":2}"#).unwrap(),
        &cartesian,
    );
    assert!(parse(r#"{"$type":"Point","srid":7203,"x":1.0}"#).is_err());
    assert!(parse(r#"{"$type":"Point","srid":7203.0,"x":1.0,"y":2.0}"#).is_err());
    assert!(parse(r#"{"$type":"Point","srid":7203,"x":"1","y":2.0}"#).is_err());
}

#[test]
fn lists_are_flat_and_of_one_type() {
    assert_eq!(round_trip(&list(vec![])), "[]");
    assert_eq!(round_trip(&list(vec![int(1), int(-2)])), "[1,-2]");
    assert_eq!(
        round_trip(&list(vec![float(1.0), float(f64::NAN)])),
        r#"[1.0,{"$type":"Float","value":"NaN"}]"#
    );
    round_trip(&list(vec![string("a"), string("")]));
    round_trip(&list(vec![date(2024, 1, 2), date(1900, 1, 1)]));
    // Neo4j lets one DateTime list hold both offsets and zone ids.
    round_trip(&list(vec![
        date_time(ymd(2024, 1, 2), hms(0, 0, 0, 0), 0),
        zoned(ymd(2024, 1, 2), hms(0, 0, 0, 0), "Europe/Paris"),
    ]));

    assert_eq!(
        encode(&list(vec![int(1), float(2.0)])).unwrap_err(),
        CodecError::MixedList {
            index: 1,
            expected: "Integer",
            found: "Float"
        }
    );
    assert_eq!(
        parse("[1, 2.0]").unwrap_err().to_string(),
        "a list property must hold values of one type, but element 1 is a Float and element 0 is a Integer"
    );
    assert_eq!(
        chain(&parse("[[1]]").unwrap_err()),
        "list element 0: a list property cannot contain another list (Neo4j properties hold only flat lists)"
    );
    assert!(matches!(
        encode(&list(vec![list(vec![])])),
        Err(CodecError::InList { index: 0, .. })
    ));
    assert_eq!(
        chain(&parse("[1, null]").unwrap_err()),
        "list element 1: a list property cannot contain null elements"
    );
    assert_eq!(
        chain(&parse(&format!("[{}]", tagged_value("Bytes", "AA=="))).unwrap_err()),
        "list element 0: a list property cannot contain ByteArray elements"
    );
    assert!(parse(r#"["a", {"$type":"Date","value":"2024-01-02"}]"#).is_err());
    assert_eq!(
        chain(&parse(r#"[{"$type":"Date","value":"2024-13-02"}]"#).unwrap_err()),
        "list element 0: Date value has an invalid \"value\": \"2024-13-02\" is not a valid Date"
    );
}

#[test]
fn graph_structures_are_not_property_values() {
    let map = BoltType::Map(BoltMap::new());
    assert_eq!(
        encode(&map).unwrap_err().to_string(),
        "a Map cannot be stored as a Neo4j property value"
    );
    assert_eq!(encode(&BoltType::Null(BoltNull)).unwrap(), Value::Null);
    assert_same(&decode(&Value::Null).unwrap(), &BoltType::Null(BoltNull));
}

#[test]
fn objects_need_a_known_type_and_only_its_fields() {
    assert_eq!(
        parse(r#"{"value":"2024-01-02"}"#).unwrap_err(),
        CodecError::MissingType
    );
    assert_eq!(
        parse(r#"{"$type":"Instant","value":"x"}"#).unwrap_err().to_string(),
        "unknown \"$type\" \"Instant\"; expected Float, Bytes, Date, LocalTime, Time, LocalDateTime, DateTime, Duration or Point"
    );
    assert!(matches!(
        parse(r#"{"$type":7}"#),
        Err(CodecError::UnknownType { .. })
    ));
    assert_eq!(
        parse(r#"{"$type":"Date","value":"2024-01-02","zone":"UTC"}"#).unwrap_err(),
        CodecError::UnexpectedField {
            type_name: "Date",
            field: "zone".into()
        }
    );
    assert_eq!(
        parse(r#"{"$type":"Date"}"#).unwrap_err(),
        CodecError::MissingField {
            type_name: "Date",
            field: "value"
        }
    );
    assert_eq!(
        parse(r#"{"$type":"Date","value":20240102}"#)
            .unwrap_err()
            .to_string(),
        "Date value has an invalid \"value\": expected a string"
    );
    assert!(parse(r#"{"$type":"Date","value":{"$type":"Date","value":"2024-01-02"}}"#).is_err());
}

#[test]
fn properties_skip_nulls_and_name_the_failing_key() {
    let mut map = BoltMap::new();
    map.put("name".into(), string("Ada"));
    map.put("born".into(), date(1815, 12, 10));
    map.put("gone".into(), BoltType::Null(BoltNull));
    let encoded = encode_properties(&map).unwrap();
    assert_eq!(
        Value::Object(encoded.clone()),
        json!({"born": {"$type": "Date", "value": "1815-12-10"}, "name": "Ada"})
    );
    assert_eq!(
        serde_json::to_string(&encoded).unwrap(),
        r#"{"born":{"$type":"Date","value":"1815-12-10"},"name":"Ada"}"#
    );
    let decoded = decode_properties(&encoded).unwrap();
    assert_eq!(decoded.len(), 2);
    assert_same(decoded.value.get("born").unwrap(), &date(1815, 12, 10));

    let mut direct = Vec::new();
    write_properties(&map, &mut direct).unwrap();
    assert_eq!(
        String::from_utf8(direct).unwrap(),
        r#"{"born":{"$type":"Date","value":"1815-12-10"},"name":"Ada"}"#
    );

    map.put("bad".into(), BoltType::Map(BoltMap::new()));
    assert_eq!(
        chain(&encode_properties(&map).unwrap_err()),
        "property \"bad\": a Map cannot be stored as a Neo4j property value"
    );
    assert_eq!(
        chain(&write_properties(&map, &mut Vec::new()).unwrap_err()),
        "property \"bad\": a Map cannot be stored as a Neo4j property value"
    );

    let file: Value = serde_json::from_str(r#"{"age": 18446744073709551616}"#).unwrap();
    let err = decode_properties(file.as_object().unwrap()).unwrap_err();
    assert_eq!(
        chain(&err),
        "property \"age\": integer 18446744073709551616 does not fit a Neo4j Integer (64-bit)"
    );
    let file: Value = serde_json::from_str(r#"{"gone": null}"#).unwrap();
    assert_eq!(
        chain(&decode_properties(file.as_object().unwrap()).unwrap_err()),
        "property \"gone\": a null cannot be stored as a Neo4j property value"
    );
}

#[test]
fn legacy_files_hold_plain_json_only() {
    let file: Value = serde_json::from_str(
        r#"{"name":"Ada","born":"1815-12-10","score":1.0,"n":1,"ok":true,"tags":["a","b"],"none":[]}"#,
    )
    .unwrap();
    let props = decode_properties_legacy(file.as_object().unwrap()).unwrap();
    assert_same(props.value.get("born").unwrap(), &string("1815-12-10"));
    assert_same(props.value.get("score").unwrap(), &float(1.0));
    assert_same(props.value.get("n").unwrap(), &int(1));
    assert_same(props.value.get("none").unwrap(), &list(vec![]));

    let legacy = |text: &str| decode_legacy(&serde_json::from_str(text).unwrap());
    // What the current format would read as a Date is just an object here.
    assert_eq!(
        legacy(r#"{"$type":"Date","value":"2024-01-02"}"#).unwrap_err().to_string(),
        "backups in format 1.0.0 hold only booleans, numbers, strings and flat lists of them, but this value is a JSON object"
    );
    assert!(matches!(
        legacy(r#"[{"a":1}]"#),
        Err(CodecError::InList { index: 0, .. })
    ));
    assert!(legacy("[[1]]").is_err());
    assert!(legacy("[1, 1.5]").is_err());
    assert!(legacy("[1, null]").is_err());
    assert!(matches!(
        legacy("18446744073709551616"),
        Err(CodecError::IntegerOutOfRange { .. })
    ));
}

#[test]
fn raw_time_fields_match_the_driver_conversion() {
    let t = hms(7, 8, 9, 100);
    let BoltType::Time(bolt) = time(t, -3600) else {
        unreachable!()
    };
    let [nanos, offset_seconds] = raw_fields::<2>(&bolt).unwrap();
    assert_eq!(nanos, 25_689_000_000_100);
    assert_eq!(offset_seconds, -3600);
    assert_eq!(<(NaiveTime, FixedOffset)>::from(&bolt), (t, offset(-3600)));
}

fn arb_date() -> impl Strategy<Value = NaiveDate> {
    // Neo4j's and chrono's year ranges overlap in about ±262,000 years;
    // stay inside so that offsets cannot push an instant out of range.
    (-200_000i32..200_000, 1u32..=366)
        .prop_filter_map("day of year", |(y, d)| NaiveDate::from_yo_opt(y, d))
}

fn arb_time() -> impl Strategy<Value = NaiveTime> {
    prop_oneof![
        (0u32..86_400, 0u32..1_000_000_000),
        (0u32..86_400, Just(0u32)),
        (0u32..86_400, (0u32..1000).prop_map(|ms| ms * 1_000_000)),
    ]
    .prop_map(|(s, n)| NaiveTime::from_num_seconds_from_midnight_opt(s, n).unwrap())
}

fn arb_offset() -> impl Strategy<Value = i32> {
    prop_oneof![
        (-18i32..=18).prop_map(|h| h * 3600),
        (-18 * 4..=18 * 4).prop_map(|q| q * 900),
        -64_800i32..=64_800,
    ]
}

const ZONES: &[&str] = &[
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "UTC",
    "Etc/GMT+5",
    "Unknown/Zone",
];

fn arb_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.0),
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
        any::<u64>().prop_map(f64::from_bits),
    ]
}

/// One value of each storable kind; `kind` picks the kind so lists can be
/// built of a single one.
fn arb_scalar(kind: u8) -> BoxedStrategy<BoltType> {
    match kind {
        0 => any::<bool>()
            .prop_map(|b| BoltType::Boolean(BoltBoolean::new(b)))
            .boxed(),
        1 => any::<i64>().prop_map(int).boxed(),
        2 => arb_float().prop_map(float).boxed(),
        3 => any::<String>().prop_map(|s| string(&s)).boxed(),
        4 => arb_date().prop_map(|d| BoltType::Date(d.into())).boxed(),
        5 => arb_time().prop_map(local_time).boxed(),
        6 => (arb_time(), arb_offset())
            .prop_map(|(t, o)| time(t, o))
            .boxed(),
        7 => (arb_date(), arb_time())
            .prop_map(|(d, t)| local_date_time(d, t))
            .boxed(),
        8 => (arb_date(), arb_time(), arb_offset())
            .prop_map(|(d, t, o)| date_time(d, t, o))
            .boxed(),
        9 => (arb_date(), arb_time(), prop::sample::select(ZONES))
            .prop_map(|(d, t, z)| zoned(d, t, z))
            .boxed(),
        10 => (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>())
            .prop_map(|(m, d, s, n)| duration(m, d, s, n))
            .boxed(),
        11 => (
            prop::sample::select(&[4326i64, 7203][..]),
            arb_float(),
            arb_float(),
        )
            .prop_map(|(srid, x, y)| {
                BoltType::Point2D(BoltPoint2D {
                    sr_id: srid.into(),
                    x: BoltFloat::new(x),
                    y: BoltFloat::new(y),
                })
            })
            .boxed(),
        12 => (
            prop::sample::select(&[4979i64, 9157][..]),
            arb_float(),
            arb_float(),
            arb_float(),
        )
            .prop_map(|(srid, x, y, z)| {
                BoltType::Point3D(BoltPoint3D {
                    sr_id: srid.into(),
                    x: BoltFloat::new(x),
                    y: BoltFloat::new(y),
                    z: BoltFloat::new(z),
                })
            })
            .boxed(),
        _ => prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| BoltType::Bytes(BoltBytes::new(b.into())))
            .boxed(),
    }
}

const BYTES_KIND: u8 = 13;

fn arb_property() -> impl Strategy<Value = BoltType> {
    (0u8..=BYTES_KIND).prop_flat_map(|kind| {
        let scalar = arb_scalar(kind);
        if kind == BYTES_KIND {
            scalar
        } else {
            prop_oneof![
                scalar.clone(),
                prop::collection::vec(scalar, 0..5).prop_map(list),
            ]
            .boxed()
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_property_value_survives_the_file(v in arb_property()) {
        let encoded = encode(&v).unwrap();
        let decoded = decode(&encoded).unwrap();
        prop_assert_eq!(format!("{decoded:?}"), format!("{v:?}"));

        let text = serde_json::to_string_pretty(&encoded).unwrap();
        let reread: Value = serde_json::from_str(&text).unwrap();
        let decoded = decode(&reread).unwrap();
        prop_assert_eq!(format!("{decoded:?}"), format!("{v:?}"));
        // Encoding is a function of the value: a restored-then-backed-up
        // database gives the same file.
        prop_assert_eq!(encode(&decoded).unwrap(), encoded);
    }

    #[test]
    fn writing_properties_directly_gives_the_same_text(
        values in proptest::collection::vec(arb_property(), 0..8),
        keys in proptest::collection::vec("[a-z\\u{e9}\"\\\\ ]{0,6}", 8),
    ) {
        let mut map = BoltMap::new();
        for (k, v) in keys.iter().zip(values) {
            map.put(k.as_str().into(), v);
        }
        let via_values = serde_json::to_vec(&encode_properties(&map).unwrap()).unwrap();
        let mut direct = Vec::new();
        write_properties(&map, &mut direct).unwrap();
        prop_assert_eq!(String::from_utf8(direct).unwrap(), String::from_utf8(via_values).unwrap());
    }

    #[test]
    fn floats_keep_their_bits(f in arb_float()) {
        let text = serde_json::to_string(&encode(&float(f)).unwrap()).unwrap();
        let BoltType::Float(back) = parse(&text).unwrap() else {
            panic!("{text} did not decode to a Float");
        };
        if f.is_nan() {
            prop_assert!(back.value.is_nan());
        } else {
            prop_assert_eq!(back.value.to_bits(), f.to_bits(), "{}", text);
        }
    }

    #[test]
    fn decoding_arbitrary_json_never_panics(text in r#"[\[\]{}",:0-9a-zA-Z$.+\-eT ]{0,60}"#) {
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            let _ = decode(&v);
            let _ = decode_legacy(&v);
        }
    }
}

#[test]
fn points_and_offsets_neo4j_would_refuse_are_refused() {
    for (text, says) in [
        (
            r#"{"$type":"Point","srid":1234,"x":1.0,"y":2.0}"#,
            "SRID 1234 is not a coordinate system Neo4j knows",
        ),
        (
            r#"{"$type":"Point","srid":7203,"x":1.0,"y":2.0,"z":3.0}"#,
            "SRID 7203 is a 2D coordinate system",
        ),
        (
            r#"{"$type":"Point","srid":4979,"x":1.0,"y":2.0}"#,
            "SRID 4979 is a 3D coordinate system",
        ),
    ] {
        let e = chain(&parse(text).unwrap_err());
        assert!(e.contains(says), "{text}: {e}");
    }
    for srid in [4326, 7203] {
        parse(&format!(
            r#"{{"$type":"Point","srid":{srid},"x":1.0,"y":2.0}}"#
        ))
        .unwrap();
    }
    for srid in [4979, 9157] {
        parse(&format!(
            r#"{{"$type":"Point","srid":{srid},"x":1.0,"y":2.0,"z":0.5}}"#
        ))
        .unwrap();
    }
    // Neo4j's offsets end at ±18:00.
    parse(&tagged_value("Time", "01:02:03-18:00")).unwrap();
    for bad in ["01:02:03+18:00:01", "01:02:03-19:00", "01:02:03+23:59"] {
        assert!(parse(&tagged_value("Time", bad)).is_err(), "{bad}");
        assert!(
            parse(&tagged_value("DateTime", &format!("2024-01-02T{bad}"))).is_err(),
            "{bad}"
        );
    }
}

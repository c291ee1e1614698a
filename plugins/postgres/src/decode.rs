//! PostgreSQL values (binary wire format) to JSON, without losing what they say.
//!
//! - int8 is a JSON number while a double holds it exactly (|n| < 2^53), else a string;
//!   numeric is always its exact decimal text; floats that JSON cannot spell are strings.
//! - date/time types are ISO 8601 (timestamptz in UTC with `Z`), interval an ISO 8601 duration.
//! - bytea is base64, json/jsonb is JSON, arrays are (nested) arrays, enums their label.
//! - Anything else is not [`decodable`]: the caller asks the server for the value's text form, so
//!   an unfamiliar type (money, geometry, a composite, an extension's type) is shown, never an
//!   error.

use std::fmt::Write;

use base64::Engine;
use fallible_iterator::FallibleIterator;
use postgres_protocol::types as wire;
use serde_json::{Number, Value};
use tokio_postgres::types::{FromSql, Kind, Type};

/// A column value exactly as it came off the wire (binary format), `None` for SQL NULL.
pub struct Raw<'a>(pub Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Whether values of `ty` decode here (else every value of the column needs its text form).
pub fn decodable(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Enum(_) => true,
        Kind::Domain(base) => decodable(base),
        Kind::Array(element) => decodable(element),
        Kind::Simple => {
            matches!(
                *ty,
                Type::BOOL
                    | Type::INT2
                    | Type::INT4
                    | Type::INT8
                    | Type::OID
                    | Type::FLOAT4
                    | Type::FLOAT8
                    | Type::NUMERIC
                    | Type::TEXT
                    | Type::VARCHAR
                    | Type::BPCHAR
                    | Type::NAME
                    | Type::UNKNOWN
                    | Type::CHAR
                    | Type::XML
                    | Type::JSON
                    | Type::JSONB
                    | Type::BYTEA
                    | Type::UUID
                    | Type::DATE
                    | Type::TIME
                    | Type::TIMETZ
                    | Type::TIMESTAMP
                    | Type::TIMESTAMPTZ
                    | Type::INTERVAL
                    | Type::INET
                    | Type::CIDR
                    | Type::MACADDR
                    | Type::BIT
                    | Type::VARBIT
            ) || ty.name() == "citext"
        }
        _ => false,
    }
}

type Failure = Box<dyn std::error::Error + Sync + Send>;

/// Decodes one value of a [`decodable`] type.
pub fn decode(ty: &Type, raw: Option<&[u8]>) -> Result<Value, Failure> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    match ty.kind() {
        Kind::Enum(_) => return Ok(Value::String(wire::text_from_sql(raw)?.to_string())),
        Kind::Domain(base) => return decode(base, Some(raw)),
        Kind::Array(element) => return array(element, raw),
        _ => {}
    }
    Ok(match *ty {
        Type::BOOL => Value::Bool(wire::bool_from_sql(raw)?),
        Type::INT2 => Value::from(wire::int2_from_sql(raw)?),
        Type::INT4 => Value::from(wire::int4_from_sql(raw)?),
        Type::OID => Value::from(wire::oid_from_sql(raw)?),
        Type::INT8 => int8(wire::int8_from_sql(raw)?),
        Type::FLOAT4 => float(f64::from(wire::float4_from_sql(raw)?)),
        Type::FLOAT8 => float(wire::float8_from_sql(raw)?),
        Type::NUMERIC => Value::String(numeric(raw)?),
        Type::CHAR => Value::String(char::from(wire::char_from_sql(raw)? as u8).to_string()),
        Type::JSON => json(wire::text_from_sql(raw)?),
        Type::JSONB => match raw.split_first() {
            Some((1, text)) => json(wire::text_from_sql(text)?),
            _ => return Err("unknown jsonb version".into()),
        },
        Type::BYTEA => Value::String(base64::engine::general_purpose::STANDARD.encode(raw)),
        Type::UUID => Value::String(uuid(&wire::uuid_from_sql(raw)?)),
        Type::DATE => Value::String(date(wire::date_from_sql(raw)?)),
        Type::TIME => Value::String(time_of_day(wire::time_from_sql(raw)?)),
        Type::TIMETZ => Value::String(timetz(raw)?),
        Type::TIMESTAMP => Value::String(timestamp(wire::timestamp_from_sql(raw)?, "")),
        Type::TIMESTAMPTZ => Value::String(timestamp(wire::timestamp_from_sql(raw)?, "Z")),
        Type::INTERVAL => Value::String(interval(raw)?),
        Type::INET | Type::CIDR => {
            let inet = wire::inet_from_sql(raw)?;
            let full = if inet.addr().is_ipv4() { 32 } else { 128 };
            if *ty == Type::INET && inet.netmask() == full {
                Value::String(inet.addr().to_string())
            } else {
                Value::String(format!("{}/{}", inet.addr(), inet.netmask()))
            }
        }
        Type::MACADDR => {
            let m = wire::macaddr_from_sql(raw)?;
            Value::String(
                m.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
            )
        }
        Type::BIT | Type::VARBIT => {
            let bits = wire::varbit_from_sql(raw)?;
            let mut s = String::with_capacity(bits.len());
            for i in 0..bits.len() {
                let byte = bits.bytes()[i / 8];
                s.push(if byte & (0x80 >> (i % 8)) != 0 {
                    '1'
                } else {
                    '0'
                });
            }
            Value::String(s)
        }
        // text, varchar, bpchar, name, unknown, xml, citext: UTF-8 text on the wire.
        _ => Value::String(wire::text_from_sql(raw)?.to_string()),
    })
}

fn int8(n: i64) -> Value {
    const EXACT: i64 = (1 << 53) - 1;
    if (-EXACT..=EXACT).contains(&n) {
        Value::from(n)
    } else {
        Value::String(n.to_string())
    }
}

fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn array(element: &Type, raw: &[u8]) -> Result<Value, Failure> {
    let array = wire::array_from_sql(raw)?;
    let dims: Vec<usize> = array
        .dimensions()
        .map(|d| Ok(usize::try_from(d.len).unwrap_or(0)))
        .collect()?;
    let mut values = Vec::new();
    let mut iter = array.values();
    while let Some(v) = iter.next()? {
        values.push(decode(element, v)?);
    }
    if dims.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    Ok(nest(&dims, &mut values.into_iter()))
}

/// Shapes a flat list into nested arrays of the given dimensions.
fn nest(dims: &[usize], values: &mut impl Iterator<Item = Value>) -> Value {
    match dims {
        [] => Value::Null,
        [n] => Value::Array(values.take(*n).collect()),
        [n, rest @ ..] => Value::Array((0..*n).map(|_| nest(rest, values)).collect()),
    }
}

fn read_u16(raw: &[u8], at: usize) -> Result<u16, Failure> {
    raw.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| "numeric value too short".into())
}

/// numeric's binary form (base-10000 digits with a weight and a display scale) as exact text.
pub fn numeric(raw: &[u8]) -> Result<String, Failure> {
    let ndigits = read_u16(raw, 0)? as usize;
    let weight = read_u16(raw, 2)? as i16 as isize;
    let sign = read_u16(raw, 4)?;
    let dscale = read_u16(raw, 6)? as usize;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits = (0..ndigits)
        .map(|i| read_u16(raw, 8 + 2 * i))
        .collect::<Result<Vec<u16>, _>>()?;
    let digit = |k: isize| -> u16 {
        usize::try_from(k)
            .ok()
            .and_then(|k| digits.get(k).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for k in 0..=weight {
            if k == 0 {
                let _ = write!(out, "{}", digit(k));
            } else {
                let _ = write!(out, "{:04}", digit(k));
            }
        }
    }
    if dscale > 0 {
        let mut fraction = String::with_capacity(dscale + 4);
        let mut j = 1;
        while fraction.len() < dscale {
            let _ = write!(fraction, "{:04}", digit(weight + j));
            j += 1;
        }
        fraction.truncate(dscale);
        out.push('.');
        out.push_str(&fraction);
    }
    Ok(out)
}

fn uuid(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// PostgreSQL counts from 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

fn ymd(days_since_2000: i64) -> String {
    let (y, m, d) = civil(days_since_2000 + PG_EPOCH_DAYS);
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y:+05}-{m:02}-{d:02}")
    }
}

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        d => ymd(i64::from(d)),
    }
}

/// `HH:MM:SS` plus a fraction without trailing zeros.
fn time_of_day(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let mut out = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if fraction != 0 {
        let f = format!("{fraction:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out
}

fn timestamp(micros: i64, suffix: &str) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        m => format!(
            "{}T{}{suffix}",
            ymd(m.div_euclid(MICROS_PER_DAY)),
            time_of_day(m.rem_euclid(MICROS_PER_DAY))
        ),
    }
}

fn timetz(raw: &[u8]) -> Result<String, Failure> {
    if raw.len() != 12 {
        return Err("timetz value has the wrong length".into());
    }
    let micros = i64::from_be_bytes(raw[0..8].try_into()?);
    // PostgreSQL stores the zone as seconds *west* of UTC.
    let east = -i32::from_be_bytes(raw[8..12].try_into()?);
    let sign = if east < 0 { '-' } else { '+' };
    let east = east.unsigned_abs();
    Ok(format!(
        "{}{sign}{:02}:{:02}",
        time_of_day(micros),
        east / 3600,
        east / 60 % 60
    ))
}

/// interval as an ISO 8601 duration, each part with its own sign as PostgreSQL's
/// `intervalstyle = iso_8601` writes it.
fn interval(raw: &[u8]) -> Result<String, Failure> {
    if raw.len() != 16 {
        return Err("interval value has the wrong length".into());
    }
    let micros = i64::from_be_bytes(raw[0..8].try_into()?);
    let days = i32::from_be_bytes(raw[8..12].try_into()?);
    let months = i32::from_be_bytes(raw[12..16].try_into()?);
    let mut out = String::from("P");
    let (years, months) = (months / 12, months % 12);
    for (n, unit) in [(years, 'Y'), (months, 'M'), (days, 'D')] {
        if n != 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    if micros != 0 {
        out.push('T');
        let hours = micros / 3_600_000_000;
        let minutes = micros / 60_000_000 % 60;
        let rest = micros % 60_000_000;
        if hours != 0 {
            let _ = write!(out, "{hours}H");
        }
        if minutes != 0 {
            let _ = write!(out, "{minutes}M");
        }
        if rest != 0 {
            let sign = if rest < 0 { "-" } else { "" };
            let rest = rest.unsigned_abs();
            let _ = write!(out, "{sign}{}", rest / 1_000_000);
            if rest % 1_000_000 != 0 {
                let f = format!("{:06}", rest % 1_000_000);
                let _ = write!(out, ".{}", f.trim_end_matches('0'));
            }
            out.push('S');
        }
    }
    if out == "P" {
        out.push_str("T0S");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [ndigits, weight as u16, sign, dscale] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics_keep_every_digit() {
        // 12345678.9012 = 1234 5678 . 9012
        let raw = numeric_bytes(3, 1, 0, 4, &[1234, 5678, 9012]);
        assert_eq!(numeric(&raw).expect("ok"), "12345678.9012");
        // -0.00012 = groups 0001 (10^-4) and 2000 (10^-8), weight -1
        let raw = numeric_bytes(2, -1, 0x4000, 5, &[1, 2000]);
        assert_eq!(numeric(&raw).expect("ok"), "-0.00012");
        // 75000.00: digits 7 5000, dscale 2
        let raw = numeric_bytes(2, 1, 0, 2, &[7, 5000]);
        assert_eq!(numeric(&raw).expect("ok"), "75000.00");
        // 1e20 = 1 0000 0000 0000 0000 0000 with trailing groups not stored
        let raw = numeric_bytes(1, 5, 0, 0, &[1]);
        assert_eq!(numeric(&raw).expect("ok"), "100000000000000000000");
        let raw = numeric_bytes(0, 0, 0xC000, 0, &[]);
        assert_eq!(numeric(&raw).expect("ok"), "NaN");
    }

    #[test]
    fn times_are_iso_8601() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(9190), "2025-02-28");
        assert_eq!(timestamp(1_500_000, "Z"), "2000-01-01T00:00:01.5Z");
        assert_eq!(timestamp(-1, ""), "1999-12-31T23:59:59.999999");
        assert_eq!(timestamp(i64::MAX, ""), "infinity");
        assert_eq!(time_of_day(45_296_000_000), "12:34:56");
        let mut tz = 3_600_000_000i64.to_be_bytes().to_vec();
        tz.extend_from_slice(&(-19_800i32).to_be_bytes());
        assert_eq!(timetz(&tz).expect("ok"), "01:00:00+05:30");
    }

    #[test]
    fn intervals_are_iso_durations() {
        let raw = |micros: i64, days: i32, months: i32| {
            let mut b = micros.to_be_bytes().to_vec();
            b.extend_from_slice(&days.to_be_bytes());
            b.extend_from_slice(&months.to_be_bytes());
            b
        };
        assert_eq!(interval(&raw(0, 0, 0)).expect("ok"), "PT0S");
        assert_eq!(
            interval(&raw(3_723_500_000, 3, 14)).expect("ok"),
            "P1Y2M3DT1H2M3.5S"
        );
        assert_eq!(interval(&raw(-60_000_000, 0, 0)).expect("ok"), "PT-1M");
    }

    #[test]
    fn big_integers_become_strings() {
        assert_eq!(int8(42), Value::from(42));
        assert_eq!(int8(i64::MAX), Value::String(i64::MAX.to_string()));
        assert_eq!(float(f64::NAN), Value::String("NaN".into()));
    }

    #[test]
    fn arrays_nest_by_dimension() {
        let flat = (1..=6).map(Value::from);
        assert_eq!(
            nest(&[2, 3], &mut flat.into_iter()),
            serde_json::json!([[1, 2, 3], [4, 5, 6]])
        );
    }
}

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
use serde_json::Number;
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

/// Writes one value of a [`decodable`] type as JSON text onto `out`. Writing text directly (no
/// `serde_json::Value` per cell) keeps a 100-row result to a handful of allocations.
pub fn write(out: &mut String, ty: &Type, raw: Option<&[u8]>) -> Result<(), Failure> {
    let Some(raw) = raw else {
        out.push_str("null");
        return Ok(());
    };
    match ty.kind() {
        Kind::Enum(_) => {
            string(out, wire::text_from_sql(raw)?);
            return Ok(());
        }
        Kind::Domain(base) => return write(out, base, Some(raw)),
        Kind::Array(element) => return array(out, element, raw),
        _ => {}
    }
    match *ty {
        Type::BOOL => out.push_str(if wire::bool_from_sql(raw)? {
            "true"
        } else {
            "false"
        }),
        Type::INT2 => push_int(out, i64::from(wire::int2_from_sql(raw)?)),
        Type::INT4 => push_int(out, i64::from(wire::int4_from_sql(raw)?)),
        Type::OID => push_int(out, i64::from(wire::oid_from_sql(raw)?)),
        Type::INT8 => int8(out, wire::int8_from_sql(raw)?),
        Type::FLOAT4 => float(out, f64::from(wire::float4_from_sql(raw)?)),
        Type::FLOAT8 => float(out, wire::float8_from_sql(raw)?),
        Type::NUMERIC => {
            out.push('"');
            numeric(out, raw)?;
            out.push('"');
        }
        Type::CHAR => string(
            out,
            &char::from(wire::char_from_sql(raw)? as u8).to_string(),
        ),
        Type::JSON => json(out, wire::text_from_sql(raw)?),
        Type::JSONB => match raw.split_first() {
            Some((1, text)) => json(out, wire::text_from_sql(text)?),
            _ => return Err("unknown jsonb version".into()),
        },
        Type::BYTEA => {
            out.push('"');
            base64::engine::general_purpose::STANDARD.encode_string(raw, out);
            out.push('"');
        }
        Type::UUID => {
            out.push('"');
            for (i, b) in wire::uuid_from_sql(raw)?.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    out.push('-');
                }
                let _ = write!(out, "{b:02x}");
            }
            out.push('"');
        }
        Type::DATE => quoted(out, |o| date(o, wire::date_from_sql(raw)?))?,
        Type::TIME => quoted(out, |o| {
            time_of_day(o, wire::time_from_sql(raw)?);
            Ok(())
        })?,
        Type::TIMETZ => quoted(out, |o| timetz(o, raw))?,
        Type::TIMESTAMP => quoted(out, |o| timestamp(o, wire::timestamp_from_sql(raw)?, ""))?,
        Type::TIMESTAMPTZ => quoted(out, |o| timestamp(o, wire::timestamp_from_sql(raw)?, "Z"))?,
        Type::INTERVAL => quoted(out, |o| interval(o, raw))?,
        Type::INET | Type::CIDR => {
            let inet = wire::inet_from_sql(raw)?;
            let full = if inet.addr().is_ipv4() { 32 } else { 128 };
            if *ty == Type::INET && inet.netmask() == full {
                let _ = write!(out, "\"{}\"", inet.addr());
            } else {
                let _ = write!(out, "\"{}/{}\"", inet.addr(), inet.netmask());
            }
        }
        Type::MACADDR => {
            out.push('"');
            for (i, b) in wire::macaddr_from_sql(raw)?.iter().enumerate() {
                if i > 0 {
                    out.push(':');
                }
                let _ = write!(out, "{b:02x}");
            }
            out.push('"');
        }
        Type::BIT | Type::VARBIT => {
            let bits = wire::varbit_from_sql(raw)?;
            out.push('"');
            for i in 0..bits.len() {
                let byte = bits.bytes()[i / 8];
                out.push(if byte & (0x80 >> (i % 8)) != 0 {
                    '1'
                } else {
                    '0'
                });
            }
            out.push('"');
        }
        // text, varchar, bpchar, name, unknown, xml, citext: UTF-8 text on the wire.
        _ => string(out, wire::text_from_sql(raw)?),
    }
    Ok(())
}

fn quoted<T>(
    out: &mut String,
    f: impl FnOnce(&mut String) -> Result<T, Failure>,
) -> Result<T, Failure> {
    out.push('"');
    let r = f(out)?;
    out.push('"');
    Ok(r)
}

/// A JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn push_int(out: &mut String, n: i64) {
    let _ = write!(out, "{n}");
}

fn int8(out: &mut String, n: i64) {
    const EXACT: i64 = (1 << 53) - 1;
    if (-EXACT..=EXACT).contains(&n) {
        push_int(out, n);
    } else {
        let _ = write!(out, "\"{n}\"");
    }
}

fn float(out: &mut String, f: f64) {
    if f.is_finite() {
        out.push_str(&Number::from_f64(f).map_or_else(|| "null".into(), |n| n.to_string()));
    } else if f.is_nan() {
        out.push_str("\"NaN\"");
    } else if f > 0.0 {
        out.push_str("\"Infinity\"");
    } else {
        out.push_str("\"-Infinity\"");
    }
}

/// json/jsonb text as it is: PostgreSQL validated it on the way in.
fn json(out: &mut String, text: &str) {
    out.push_str(text);
}

fn array(out: &mut String, element: &Type, raw: &[u8]) -> Result<(), Failure> {
    let array = wire::array_from_sql(raw)?;
    let dims: Vec<usize> = array
        .dimensions()
        .map(|d| Ok(usize::try_from(d.len).unwrap_or(0)))
        .collect()?;
    if dims.is_empty() {
        out.push_str("[]");
        return Ok(());
    }
    let mut values = array.values();
    nest(out, &dims, &mut values, element)
}

/// Writes the flat element list as nested arrays of the given dimensions.
fn nest(
    out: &mut String,
    dims: &[usize],
    values: &mut wire::ArrayValues<'_>,
    element: &Type,
) -> Result<(), Failure> {
    let Some((n, rest)) = dims.split_first() else {
        return Ok(());
    };
    out.push('[');
    for i in 0..*n {
        if i > 0 {
            out.push(',');
        }
        if rest.is_empty() {
            let value = values
                .next()?
                .ok_or("array has fewer elements than its dimensions")?;
            write(out, element, value)?;
        } else {
            nest(out, rest, values, element)?;
        }
    }
    out.push(']');
    Ok(())
}

fn read_u16(raw: &[u8], at: usize) -> Result<u16, Failure> {
    raw.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| "numeric value too short".into())
}

/// numeric's binary form (base-10000 digits with a weight and a display scale) as exact text.
pub fn numeric(out: &mut String, raw: &[u8]) -> Result<(), Failure> {
    let ndigits = read_u16(raw, 0)? as usize;
    let weight = read_u16(raw, 2)? as i16 as isize;
    let sign = read_u16(raw, 4)?;
    let dscale = read_u16(raw, 6)? as usize;
    let special = match sign {
        0xC000 => "NaN",
        0xD000 => "Infinity",
        0xF000 => "-Infinity",
        _ => "",
    };
    if !special.is_empty() {
        out.push_str(special);
        return Ok(());
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
    Ok(())
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

/// Two decimal digits, without the formatting machinery (this runs for every timestamp).
fn two(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

fn ymd(out: &mut String, days_since_2000: i64) {
    let (y, m, d) = civil(days_since_2000 + PG_EPOCH_DAYS);
    if (0..=9999).contains(&y) {
        two(out, (y / 100) as u32);
        two(out, (y % 100) as u32);
    } else {
        let _ = write!(out, "{y:+05}");
    }
    out.push('-');
    two(out, m);
    out.push('-');
    two(out, d);
}

fn date(out: &mut String, days: i32) -> Result<(), Failure> {
    match days {
        i32::MAX => out.push_str("infinity"),
        i32::MIN => out.push_str("-infinity"),
        d => ymd(out, i64::from(d)),
    }
    Ok(())
}

/// `HH:MM:SS` plus a fraction without trailing zeros.
fn time_of_day(out: &mut String, micros: i64) {
    let secs = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    two(out, (secs / 3600) as u32);
    out.push(':');
    two(out, (secs / 60 % 60) as u32);
    out.push(':');
    two(out, (secs % 60) as u32);
    fraction_digits(out, fraction as u64);
}

/// `.ffffff` with trailing zeros dropped; nothing for zero.
fn fraction_digits(out: &mut String, micros: u64) {
    if micros == 0 {
        return;
    }
    out.push('.');
    let mut digits = micros;
    let mut width = 6;
    while digits.is_multiple_of(10) {
        digits /= 10;
        width -= 1;
    }
    let _ = write!(out, "{digits:0width$}");
}

fn timestamp(out: &mut String, micros: i64, suffix: &str) -> Result<(), Failure> {
    match micros {
        i64::MAX => out.push_str("infinity"),
        i64::MIN => out.push_str("-infinity"),
        m => {
            ymd(out, m.div_euclid(MICROS_PER_DAY));
            out.push('T');
            time_of_day(out, m.rem_euclid(MICROS_PER_DAY));
            out.push_str(suffix);
        }
    }
    Ok(())
}

fn timetz(out: &mut String, raw: &[u8]) -> Result<(), Failure> {
    if raw.len() != 12 {
        return Err("timetz value has the wrong length".into());
    }
    let micros = i64::from_be_bytes(raw[0..8].try_into()?);
    // PostgreSQL stores the zone as seconds *west* of UTC.
    let east = -i32::from_be_bytes(raw[8..12].try_into()?);
    time_of_day(out, micros);
    out.push(if east < 0 { '-' } else { '+' });
    let east = east.unsigned_abs();
    two(out, east / 3600);
    out.push(':');
    two(out, east / 60 % 60);
    Ok(())
}

/// interval as an ISO 8601 duration, each part with its own sign as PostgreSQL's
/// `intervalstyle = iso_8601` writes it.
fn interval(out: &mut String, raw: &[u8]) -> Result<(), Failure> {
    if raw.len() != 16 {
        return Err("interval value has the wrong length".into());
    }
    let micros = i64::from_be_bytes(raw[0..8].try_into()?);
    let days = i32::from_be_bytes(raw[8..12].try_into()?);
    let months = i32::from_be_bytes(raw[12..16].try_into()?);
    out.push('P');
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
            fraction_digits(out, rest % 1_000_000);
            out.push('S');
        }
    } else if years == 0 && months == 0 && days == 0 {
        out.push_str("T0S");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<F: FnOnce(&mut String) -> Result<(), Failure>>(f: F) -> String {
        let mut out = String::new();
        f(&mut out).expect("decodes");
        out
    }

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
        let num = |raw: Vec<u8>| with(|o| numeric(o, &raw));
        // 12345678.9012 = 1234 5678 . 9012
        assert_eq!(
            num(numeric_bytes(3, 1, 0, 4, &[1234, 5678, 9012])),
            "12345678.9012"
        );
        // -0.00012 = groups 0001 (10^-4) and 2000 (10^-8), weight -1
        assert_eq!(num(numeric_bytes(2, -1, 0x4000, 5, &[1, 2000])), "-0.00012");
        assert_eq!(num(numeric_bytes(2, 1, 0, 2, &[7, 5000])), "75000.00");
        // 1e20: trailing zero groups are not stored
        assert_eq!(
            num(numeric_bytes(1, 5, 0, 0, &[1])),
            "100000000000000000000"
        );
        assert_eq!(num(numeric_bytes(0, 0, 0xC000, 0, &[])), "NaN");
    }

    #[test]
    fn times_are_iso_8601() {
        assert_eq!(with(|o| date(o, 0)), "2000-01-01");
        assert_eq!(with(|o| date(o, -1)), "1999-12-31");
        assert_eq!(with(|o| date(o, 9190)), "2025-02-28");
        assert_eq!(
            with(|o| timestamp(o, 1_500_000, "Z")),
            "2000-01-01T00:00:01.5Z"
        );
        assert_eq!(with(|o| timestamp(o, -1, "")), "1999-12-31T23:59:59.999999");
        assert_eq!(with(|o| timestamp(o, i64::MAX, "")), "infinity");
        let mut tz = 3_600_000_000i64.to_be_bytes().to_vec();
        tz.extend_from_slice(&(-19_800i32).to_be_bytes());
        assert_eq!(with(|o| timetz(o, &tz)), "01:00:00+05:30");
    }

    #[test]
    fn intervals_are_iso_durations() {
        let raw = |micros: i64, days: i32, months: i32| {
            let mut b = micros.to_be_bytes().to_vec();
            b.extend_from_slice(&days.to_be_bytes());
            b.extend_from_slice(&months.to_be_bytes());
            b
        };
        assert_eq!(with(|o| interval(o, &raw(0, 0, 0))), "PT0S");
        assert_eq!(
            with(|o| interval(o, &raw(3_723_500_000, 3, 14))),
            "P1Y2M3DT1H2M3.5S"
        );
        assert_eq!(with(|o| interval(o, &raw(-60_000_000, 0, 0))), "PT-1M");
        assert_eq!(with(|o| interval(o, &raw(0, 2, 0))), "P2D");
    }

    #[test]
    fn numbers_and_strings_are_valid_json() {
        assert_eq!(
            with(|o| {
                int8(o, 42);
                Ok(())
            }),
            "42"
        );
        assert_eq!(
            with(|o| {
                int8(o, i64::MAX);
                Ok(())
            }),
            format!("\"{}\"", i64::MAX)
        );
        assert_eq!(
            with(|o| {
                float(o, f64::NAN);
                Ok(())
            }),
            "\"NaN\""
        );
        let tricky = "q\"b\\n\nt\u{1}é";
        let s = with(|o| {
            string(o, tricky);
            Ok(())
        });
        assert_eq!(
            serde_json::from_str::<String>(&s).expect("valid JSON"),
            tricky
        );
    }

    #[test]
    fn arrays_nest_by_dimension() {
        // int4[][] {{1,2},{3,4}} in binary form.
        let mut raw = Vec::new();
        for v in [2i32, 0, 23] {
            raw.extend_from_slice(&v.to_be_bytes());
        }
        for _ in 0..2 {
            raw.extend_from_slice(&2i32.to_be_bytes());
            raw.extend_from_slice(&1i32.to_be_bytes());
        }
        for n in 1..=4i32 {
            raw.extend_from_slice(&4i32.to_be_bytes());
            raw.extend_from_slice(&n.to_be_bytes());
        }
        assert_eq!(with(|o| array(o, &Type::INT4, &raw)), "[[1,2],[3,4]]");
    }
}

//! Numbers as text for the text formats (CSV, extended XYZ): the shortest string that reads back
//! as exactly the same value (Rust's round-trip formatting), in plain notation for magnitudes in
//! [1e-5, 1e16) and in scientific notation (`1.5e-7`) otherwise, so no value turns into hundreds
//! of digits. Non-finite values print as `NaN`, `inf`, `-inf` (Python's `float()` reads them).

/// `x` as the shortest round-trip text.
pub(crate) fn f64_text(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || !a.is_finite() || (1e-5..1e16).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// `x` as the shortest text that reads back as the same `f32`.
pub(crate) fn f32_text(x: f32) -> String {
    let a = x.abs();
    if a == 0.0 || !a.is_finite() || (1e-5..1e16).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_stays_short() {
        for x in [0.0, -0.0, 1.0, 0.1, 1.0 / 3.0, 1e-300, -2.5e300, 12345.678, 1e16, 9.99e15, 1e-5, 9.9e-6, f64::MAX] {
            let s = f64_text(x);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{x} -> {s}");
            assert!(s.len() <= 24, "{s}");
        }
        for x in [0.0f32, 0.1, 1.0 / 3.0, 1e-30, 3.4e38, -7.25] {
            let s = f32_text(x);
            assert_eq!(s.parse::<f32>().unwrap().to_bits(), x.to_bits(), "{x} -> {s}");
            assert!(s.len() <= 16, "{s}");
        }
        assert_eq!(f64_text(100.0), "100");
        assert_eq!(f64_text(1e-7), "1e-7");
        assert_eq!(f64_text(f64::NAN), "NaN");
        assert_eq!(f64_text(f64::NEG_INFINITY), "-inf");
    }
}

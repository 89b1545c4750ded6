//! Twilio SIDs: a two-letter prefix plus 32 lowercase hex digits.

/// A new random SID with `prefix` (e.g. `"YF"`).
pub fn new_sid(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::random();
    let mut s = String::with_capacity(34);
    s.push_str(prefix);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Whether `s` is `prefix` followed by exactly 32 hex digits (either case, as Twilio's patterns).
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A random secret of 32 lowercase hex digits (auth tokens).
pub fn new_secret_hex() -> String {
    new_sid("XX")[2..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let s = new_sid("YF");
        assert!(is_sid(&s, "YF"));
        assert!(!is_sid(&s, "YC"));
        assert_eq!(s, s.to_lowercase().replacen("yf", "YF", 1));
        assert!(!is_sid("YF123", "YF"));
        assert_ne!(new_sid("YF"), new_sid("YF"));
    }
}

//! Inline SVG QR codes (no external assets, nothing for the CSP to block).

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::error::DemoError;

/// Renders `data` as an `<svg>` element (the XML declaration stripped so it can sit inside HTML).
pub fn svg(data: &str) -> Result<String, DemoError> {
    // Level L: the link carries a long token, and a screen is a clean medium, so fewer, larger
    // modules scan more reliably than more error correction would.
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::L)
        .map_err(|e| DemoError::Input(format!("cannot encode the enrolment link as QR: {e}")))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build();
    let start = image.find("<svg").unwrap_or(0);
    Ok(image[start..].to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_a_bare_svg_element() {
        let out = super::svg("assent://enroll?token=abc").unwrap();
        assert!(out.starts_with("<svg"), "{}", &out[..40]);
        assert!(out.ends_with("</svg>"));
        assert!(!out.contains("<?xml"));
    }
}

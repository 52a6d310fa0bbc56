use super::*;

fn size(s: &str) -> u64 {
    s.parse::<ByteSize>().unwrap().0
}

fn dur(s: &str) -> std::time::Duration {
    s.parse::<Duration>().unwrap().0
}

#[test]
fn sizes_parse_with_binary_suffixes() {
    assert_eq!(size("1024"), 1024);
    assert_eq!(size("0"), 0);
    assert_eq!(size("512M"), 512 << 20);
    assert_eq!(size("2G"), 2 << 30);
    assert_eq!(size("2GiB"), 2 << 30);
    assert_eq!(size("2gb"), 2 << 30);
    assert_eq!(size("3k"), 3 << 10);
    assert_eq!(size("1T"), 1 << 40);
    assert_eq!(size("100B"), 100);
    assert_eq!(size(" 4 M "), 4 << 20);
}

#[test]
fn bad_sizes_are_explained() {
    let err = "2X".parse::<ByteSize>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid size \"2X\": expected a number with an optional K, M, G or T suffix, e.g. \"512M\""
    );
    for bad in ["", "M", "-1", "1.5G", "2 GB B", "2iB", "G2"] {
        assert!(
            matches!(bad.parse::<ByteSize>(), Err(UnitError::InvalidSize { .. })),
            "{bad:?} should be rejected"
        );
    }
    assert!(matches!(
        "16777216T".parse::<ByteSize>(),
        Err(UnitError::SizeTooLarge { .. })
    ));
    assert!(matches!(
        "99999999999999999999".parse::<ByteSize>(),
        Err(UnitError::SizeTooLarge { .. })
    ));
}

#[test]
fn sizes_display_in_the_shortest_exact_form() {
    for (bytes, text) in [
        (0, "0"),
        (1536, "1536"),
        (1024, "1K"),
        (512 << 20, "512M"),
        (2 << 30, "2G"),
        (3 << 40, "3T"),
        ((1 << 30) + (1 << 20), "1025M"),
    ] {
        assert_eq!(ByteSize(bytes).to_string(), text);
        assert_eq!(size(text), bytes, "{text} must parse back");
    }
}

#[test]
fn durations_parse() {
    use std::time::Duration as D;
    assert_eq!(dur("90"), D::from_secs(90));
    assert_eq!(dur("90s"), D::from_secs(90));
    assert_eq!(dur("10m"), D::from_secs(600));
    assert_eq!(dur("1h30m"), D::from_secs(5400));
    assert_eq!(dur("250ms"), D::from_millis(250));
    assert_eq!(dur("1s500ms"), D::from_millis(1500));
    assert_eq!(dur("2us"), D::from_micros(2));
    assert_eq!(dur("0s"), D::ZERO);
}

#[test]
fn bad_durations_are_explained() {
    let err = "10x".parse::<Duration>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid duration \"10x\": expected whole numbers with h, m, s or ms units (or bare seconds), e.g. \"90s\", \"10m\" or \"1h30m\""
    );
    for bad in ["", "m", "1.5h", "h1", "1h 30m", "-5s", "10M"] {
        assert!(
            matches!(
                bad.parse::<Duration>(),
                Err(UnitError::InvalidDuration { .. })
            ),
            "{bad:?} should be rejected"
        );
    }
    for bad in ["30m1h", "1m1m"] {
        assert!(matches!(
            bad.parse::<Duration>(),
            Err(UnitError::DurationUnitOrder { .. })
        ));
    }
    assert!(matches!(
        "99999999999999999999999h".parse::<Duration>(),
        Err(UnitError::DurationTooLarge { .. })
    ));
}

#[test]
fn durations_display_in_the_shortest_exact_form() {
    use std::time::Duration as D;
    for (value, text) in [
        (D::ZERO, "0s"),
        (D::from_secs(90), "1m30s"),
        (D::from_secs(5400), "1h30m"),
        (D::from_secs(600), "10m"),
        (D::from_millis(250), "250ms"),
        (D::from_millis(1500), "1s500ms"),
        (D::from_nanos(3_600_000_000_007), "1h7ns"),
    ] {
        assert_eq!(Duration(value).to_string(), text);
        assert_eq!(dur(text), value, "{text} must parse back");
    }
}

#[derive(Debug, serde::Deserialize, serde::Serialize, PartialEq)]
struct Both {
    size: ByteSize,
    time: Duration,
}

#[test]
fn serde_accepts_strings_and_bare_integers() {
    let both: Both = toml::from_str("size = \"2G\"\ntime = \"1h30m\"").unwrap();
    assert_eq!(both.size, ByteSize(2 << 30));
    assert_eq!(both.time.0.as_secs(), 5400);
    let both: Both = toml::from_str("size = 4096\ntime = 30").unwrap();
    assert_eq!(both.size, ByteSize(4096));
    assert_eq!(both.time.0.as_secs(), 30);
    assert_eq!(
        toml::to_string(&both).unwrap(),
        "size = \"4K\"\ntime = \"30s\"\n"
    );
}

#[test]
fn serde_rejects_negative_and_bad_strings() {
    let err = toml::from_str::<Both>("size = -1\ntime = 3").unwrap_err();
    assert!(err.message().contains("a size such as"), "{err}");
    let err = toml::from_str::<Both>("size = \"2X\"\ntime = 3").unwrap_err();
    assert!(err.message().starts_with("invalid size \"2X\""), "{err}");
}

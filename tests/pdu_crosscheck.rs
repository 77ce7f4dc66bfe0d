//! Cross-checks our SMS-SUBMIT PDUs with an independent decoder:
//! python-gsmmodem-new (`pip install python-gsmmodem-new`), driven by
//! tests/pdu_crosscheck.py. Set SMSS_SKIP_PYTHON_CROSSCHECK=1 to skip where
//! that package cannot be installed.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use smss::gsm::{SubmitOptions, encode_submit, split};

/// Whether the cross-check runs: false (said on stderr) when
/// SMSS_SKIP_PYTHON_CROSSCHECK is set; otherwise python3 must import
/// `module`, or the test fails saying what to install.
fn python_with(module: &str, package: &str) -> bool {
    if std::env::var_os("SMSS_SKIP_PYTHON_CROSSCHECK").is_some() {
        eprintln!("skipped: SMSS_SKIP_PYTHON_CROSSCHECK is set");
        return false;
    }
    let probe = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status();
    assert!(
        matches!(probe, Ok(s) if s.success()),
        "python3 with {module} is needed: pip install {package} \
         (or set SMSS_SKIP_PYTHON_CROSSCHECK=1)"
    );
    true
}

/// Runs `python3 SCRIPT ARGS...` with `input` on its standard input.
fn run_python(script: &Path, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{0C}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

fn texts() -> Vec<String> {
    let mut t: Vec<String> = [
        "Hello, world!",
        "€[]{}^~\\|",
        "Příliš žluťoučký kůň úpěl ďábelské ódy",
        "Emoji 😀👍🏽 and a flag 🇨🇿",
        "ends with @",
        "@",
        "1234567@",
        "line one\nline two\r\nend",
        "$ and ¤ and Ç and § and ¡¿ÄÖÑÜäöñüà",
        "\u{0C}form feed",
        "tab\tmakes it UCS-2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    t.extend([
        "x".repeat(160),
        "x".repeat(161),
        "x".repeat(153 * 2),
        "x".repeat(153 * 2 + 1),
        format!("{}€", "x".repeat(159)),
        format!("{}€{}", "x".repeat(152), "y".repeat(100)),
        format!("{}@", "x".repeat(159)),
        "ř".repeat(70),
        "ř".repeat(71),
        "ř".repeat(67 * 2),
        format!("{}😀{}", "ř".repeat(66), "ř".repeat(50)),
        "😀".repeat(36),
        (0..400)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect(),
    ]);
    t
}

#[test]
fn python_gsmmodem_decodes_our_pdus() {
    if !python_with("gsmmodem.pdu", "python-gsmmodem-new") {
        return;
    }

    let option_sets = [
        ("+420608337726", "+420608337726", SubmitOptions::default()),
        (
            "608337726",
            "608337726",
            SubmitOptions {
                bare_numbers_international: false,
                concat_ref: 0xC3,
                status_report: true,
                validity: None,
                max_parts: 10,
                flash: false,
            },
        ),
        (
            "00420608337726",
            "+420608337726",
            SubmitOptions {
                concat_ref: 255,
                validity: Some(0),
                ..SubmitOptions::default()
            },
        ),
    ];
    let mut input = String::new();
    for text in texts() {
        let (_, part_texts) = split(&text);
        for (number, expected_number, opts) in &option_sets {
            let parts = encode_submit(number, &text, opts).unwrap();
            assert_eq!(parts.len(), part_texts.len());
            for (part, part_text) in parts.iter().zip(&part_texts) {
                let concat = if part.total > 1 {
                    format!("{}:{}:{}", opts.concat_ref, part.seq, part.total)
                } else {
                    String::new()
                };
                input.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\n",
                    part.pdu_hex,
                    expected_number,
                    escape(part_text),
                    part.tpdu_len,
                    concat
                ));
            }
        }
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pdu_crosscheck.py");
    let out = run_python(&script, &[], &input);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "python decoder disagrees:\n{stderr}\n{stdout}"
    );
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{0C}'),
            Some(c) => out.push(c),
            None => {}
        }
    }
    out
}

/// The national language tables against PyPI gsmcodecs (the tables of TS
/// 23.038 V18, its own encoder and decoder), driven by
/// tests/national_crosscheck.py: SMS-DELIVER PDUs it builds for random
/// texts of every table pair decode in smss to the text and the tables;
/// SMS-SUBMIT PDUs smss builds with a single shift table decode there to
/// the part texts.
#[test]
fn gsmcodecs_and_smss_agree_on_the_national_tables() {
    use smss::gsm::{Encoding, Language, Tables, Tpdu, decode_pdu};
    if !python_with("gsmcodecs", "gsmcodecs") {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/national_crosscheck.py");

    // Receiving: what a phone using these tables sends.
    let out = Command::new("python3")
        .arg(&script)
        .arg("make")
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = String::from_utf8(out.stdout).unwrap();
    let mut pairs = std::collections::BTreeSet::new();
    for line in made.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (pdu, lock, single, text) = (f[0], f[1], f[2], unescape(f[3]));
        let Ok(Tpdu::Deliver(d)) = decode_pdu(pdu, true) else {
            panic!("{pdu} does not decode")
        };
        assert_eq!(d.user_data.text, text, "{pdu} (tables {lock}, {single})");
        let want = Tables {
            locking: Language::from_id(lock.parse().unwrap()),
            single: Language::from_id(single.parse().unwrap()),
        };
        assert_eq!(d.user_data.tables, want, "{pdu}");
        pairs.insert((lock.to_owned(), single.to_owned()));
    }
    // Default and 12 locking tables, each with the default and 13 single.
    assert_eq!(pairs.len(), 13 * 14, "table pairs covered");

    // Sending: texts smss puts in a single shift table.
    let texts = [
        format!("Sunucu db1: disk doluş, lütfen bakın {}", "x".repeat(60)),
        format!("¿Está aquí? Sí, está en la oficina. {}", "y".repeat(60)),
        format!("Não, você não está só: ação e atenção {}", "z".repeat(60)),
        format!("Çok güzel, teşekkürler! {}{{}}[]€", "ğ".repeat(200)),
        format!("{}ş", "a".repeat(300)),
    ];
    let mut input = String::new();
    for text in &texts {
        let (encoding, part_texts) = split(text);
        assert!(
            matches!(encoding, Encoding::Gsm7Shift(_)),
            "{text:?} went as {encoding:?}"
        );
        let parts = encode_submit("+420608337726", text, &SubmitOptions::default()).unwrap();
        for (part, part_text) in parts.iter().zip(&part_texts) {
            input.push_str(&format!("{}\t{}\n", part.pdu_hex, escape(part_text)));
        }
    }
    let out = run_python(&script, &["check"], &input);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "gsmcodecs disagrees:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

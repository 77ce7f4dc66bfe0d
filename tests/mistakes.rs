//! Issue 14: the administrator's mistakes never hurt. Each trap the README
//! and the defaults led into, driven through the real binary.

use crate::util::*;

/// The code block of README.md that contains `needle`.
pub fn readme_block(needle: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    readme
        .split("```")
        .skip(1)
        .step_by(2)
        .find(|b| b.contains(needle))
        .unwrap_or_else(|| panic!("README.md has no code block with {needle}"))
        .to_owned()
}

/// `serve --check` with a config file of `text` plus what keeps it in the
/// test's directory.
fn check_with_config(dir: &TempDir, text: &str) -> std::process::Output {
    let conf = dir.path().join("smss.conf");
    let d = dir.path().display();
    std::fs::write(
        &conf,
        format!(
            "db = sqlite://{d}/smss.db\ndevice = sim\nlock-dir = {d}\nlog-file = none\n\
             listen = 127.0.0.1:0\n{text}"
        ),
    )
    .unwrap();
    smss(&["serve", "--check", "--config", conf.to_str().unwrap()])
}

/// Trap 2: the README's web snippet, copied with its comment, works.
#[test]
fn the_readme_web_snippet_works_when_copied() {
    let dir = TempDir::new("snippet");
    let block = readme_block("web-password-hash = ");
    let placeholder = "$argon2id$v=19$m=19456,t=2,p=1$...";
    assert!(block.contains(placeholder), "{block}");
    assert!(block.contains("# from smss hash-password"), "{block}");
    let hash = password_hash("a long passphrase");
    // port 0: the check binds it, and 8025 may be taken on this machine
    let text = block
        .replace(placeholder, &hash)
        .replace("0.0.0.0:8025", "0.0.0.0:0");
    let out = check_with_config(&dir, text.trim_start_matches(|c| c != '\n'));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // a comment after any value, and \# for a literal #
    let out = check_with_config(&dir, "max-parts = 3   # fewer\ninstance = gw\\#1 # one\n");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

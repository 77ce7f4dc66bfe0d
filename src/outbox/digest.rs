//! The text of a digest (`max-per-recipient`): one SMS for the messages
//! waiting for a number, `N alerts: first; second; ...` with as many first
//! lines as fit in `max-parts`, pure and unit-tested.

use crate::gsm;
use crate::store::QueuedMessage;

/// `carrier` and `lines` (oldest first) as one text of at most
/// `max_parts` parts: the count, then the first line of each message, as
/// many as fit.
pub fn text(carrier: &QueuedMessage, lines: &[QueuedMessage], max_parts: usize) -> String {
    let firsts = std::iter::once(carrier)
        .chain(lines)
        .map(|m| m.text.lines().next().unwrap_or("").trim().to_owned());
    compose(firsts.collect(), max_parts)
}

fn compose(firsts: Vec<String>, max_parts: usize) -> String {
    let mut out = format!("{} alerts:", firsts.len());
    let mut sep = " ";
    for line in firsts {
        let next = format!("{out}{sep}{line}");
        if gsm::plan(&next).1 > max_parts {
            break;
        }
        out = next;
        sep = "; ";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_many_first_lines_as_fit() {
        let firsts: Vec<String> = (1..=12)
            .map(|i| format!("disk {i} full\ndetails"))
            .collect();
        let firsts: Vec<String> = firsts
            .iter()
            .map(|t| t.lines().next().unwrap().to_owned())
            .collect();
        assert_eq!(
            compose(firsts[..3].to_vec(), 1),
            "3 alerts: disk 1 full; disk 2 full; disk 3 full"
        );
        let long: Vec<String> = (0..40).map(|i| format!("host{i:02} is down")).collect();
        let one = compose(long.clone(), 1);
        assert!(
            one.starts_with("40 alerts: host00 is down; host01"),
            "{one}"
        );
        assert!(gsm::plan(&one).1 == 1 && one.len() > 140, "{one}");
        assert!(gsm::plan(&compose(long, 2)).1 == 2);
    }
}

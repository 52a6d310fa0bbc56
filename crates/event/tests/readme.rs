//! The README's table of event kinds (section "The audit trail") lists
//! exactly the kinds of [`Event`].

use corral_event::Event;
use std::collections::BTreeSet;

/// The kinds named in the first column of the table's rows.
fn readme_kinds() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("The audit trail\n"))
        .expect("README has a section \"## The audit trail\"");
    let mut kinds = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('|').nth(1).unwrap_or_default();
        // "`run.exit`, `run.error`": every backquoted name.
        for (i, part) in first.split('`').enumerate() {
            if i % 2 == 1 {
                kinds.insert(part.to_owned());
            }
        }
    }
    kinds
}

#[test]
fn readme_table_lists_every_kind_and_no_other() {
    let readme = readme_kinds();
    assert!(
        !readme.is_empty(),
        "no rows found in the README's event table"
    );
    let kinds: BTreeSet<String> = Event::KINDS.iter().map(|k| k.to_string()).collect();
    let undocumented: Vec<_> = kinds.difference(&readme).collect();
    let untyped: Vec<_> = readme.difference(&kinds).collect();
    assert!(
        undocumented.is_empty() && untyped.is_empty(),
        "README.md's audit event table and corral_event::Event disagree: \
         not in the table: {undocumented:?}; not a variant of Event: {untyped:?}"
    );
}

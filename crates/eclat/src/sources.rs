//! A script as the daemon receives it ([`Source`]): its text and the files beside it that it
//! imports chains from, since the daemon cannot read the user's directory.
//!
//! `from chains.X import ...` in `dir/main.eclat` means `dir/X.eclat` if it exists, else
//! `dir/X.hike.c` (as for `eclat check`, see `eclat_link::project::scripts`). Imports are found by
//! parsing each script with its `-D` defines substituted, as the daemon will compile it; an
//! eCLAT sibling's own imports are followed in turn. A script that does not parse is sent all
//! the same, with the siblings of the imports that did parse: the daemon reports the errors.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use eclat_compiler::{substitute, Define};
use eclat_proto::v1::Source;
use eclat_syntax::ast::Item;

/// Reads `file` and the siblings it imports chains from. `file_name` is `file` as the user
/// gave it.
pub fn read_source(file: &Path, defines: &[Define]) -> Result<Source> {
    let text = read(file)?;
    let dir = script_dir(file);
    let siblings = siblings(&dir, &text, defines)?;
    Ok(Source {
        file_name: file.display().to_string(),
        text,
        siblings: siblings.into_iter().collect::<HashMap<_, _>>(),
    })
}

/// The files in `dir` that the script `text` imports chains from, transitively, by file name
/// (`X.eclat` or `X.hike.c`) with their text.
pub fn siblings(dir: &Path, text: &str, defines: &[Define]) -> Result<BTreeMap<String, String>> {
    let mut found = BTreeMap::new();
    // Scripts already looked for, found or not, so that a cycle of imports ends.
    let mut seen: Vec<String> = Vec::new();
    let mut pending: Vec<String> = chain_imports(text, defines);
    while let Some(script) = pending.pop() {
        if seen.contains(&script) {
            continue;
        }
        seen.push(script.clone());
        let eclat = format!("{script}.eclat");
        let c = format!("{script}.hike.c");
        if dir.join(&eclat).is_file() {
            let text = read(&dir.join(&eclat))?;
            pending.extend(chain_imports(&text, defines));
            found.insert(eclat, text);
        } else if dir.join(&c).is_file() {
            found.insert(c.clone(), read(&dir.join(&c))?);
        }
        // Neither: the daemon reports the unknown script where it is imported.
    }
    Ok(found)
}

/// The scripts `X` of every `from chains.X import ...` in `text`, in source order.
fn chain_imports(text: &str, defines: &[Define]) -> Vec<String> {
    let parsed = eclat_syntax::parse(&substitute(text, defines));
    let mut scripts: Vec<String> = parsed
        .module
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Import(i) if i.path.len() == 2 && i.path[0].name == "chains" => {
                Some(i.path[1].name.clone())
            }
            _ => None,
        })
        .collect();
    // Popped from the end: reversed, they are looked for in source order.
    scripts.reverse();
    scripts
}

/// The directory of `file` (`.` for a bare file name).
fn script_dir(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of files, removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(label: &str, files: &[(&str, &str)]) -> Dir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "eclat-sources-{label}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("a temporary directory");
            for (name, text) in files {
                std::fs::write(dir.join(name), text).expect("writable");
            }
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The names of the siblings `main.eclat` sends, with `defines`.
    fn sent_with(files: &[(&str, &str)], defines: &[&str]) -> Vec<String> {
        let dir = Dir::new("sent", files);
        let defines: Vec<Define> = defines
            .iter()
            .map(|d| Define::parse(d).expect("a define"))
            .collect();
        let source = read_source(&dir.0.join("main.eclat"), &defines).expect("readable");
        assert_eq!(
            source.text,
            files
                .iter()
                .find(|(n, _)| *n == "main.eclat")
                .expect("main")
                .1
        );
        for (name, text) in &source.siblings {
            let written = files.iter().find(|(n, _)| n == name).expect("a file");
            assert_eq!(*text, written.1, "{name}");
        }
        let mut names: Vec<String> = source.siblings.into_keys().collect();
        names.sort();
        names
    }

    fn sent(files: &[(&str, &str)]) -> Vec<String> {
        sent_with(files, &[])
    }

    const HELPER: &str = "def helper(x):\n    return x\n";

    #[test]
    fn an_imported_script_is_sent() {
        let main = "from chains.helpers import helper\ndef main():\n    return helper(1)\n";
        assert_eq!(
            sent(&[
                ("main.eclat", main),
                ("helpers.eclat", HELPER),
                ("unrelated.eclat", HELPER),
            ]),
            ["helpers.eclat"]
        );
    }

    #[test]
    fn c_chains_are_sent_when_there_is_no_script() {
        let main = "from chains.fast import f\ndef main():\n    return f()\n";
        let c = "#include <hike/chain.h>\n";
        assert_eq!(
            sent(&[("main.eclat", main), ("fast.hike.c", c)]),
            ["fast.hike.c"]
        );
        // A script of that name wins, as for `eclat check`.
        assert_eq!(
            sent(&[
                ("main.eclat", main),
                ("fast.hike.c", c),
                ("fast.eclat", HELPER)
            ]),
            ["fast.eclat"]
        );
    }

    #[test]
    fn imports_of_imported_scripts_are_followed() {
        let main = "from chains.a import fa\ndef main():\n    return fa()\n";
        let a = "from chains.b import fb\nfrom chains.c import fc\ndef fa():\n    return fb()\n";
        // `b` imports `a` back: the cycle ends.
        let b = "from chains.a import fa\ndef fb():\n    return 1\n";
        assert_eq!(
            sent(&[
                ("main.eclat", main),
                ("a.eclat", a),
                ("b.eclat", b),
                ("c.hike.c", "\n"),
            ]),
            ["a.eclat", "b.eclat", "c.hike.c"]
        );
    }

    #[test]
    fn missing_siblings_and_other_imports_are_left_to_the_daemon() {
        let main = "from programs.hike_default import hike_pass\n\
                    from chains.nowhere import n\n\
                    def main():\n    return n()\n";
        assert!(sent(&[("main.eclat", main)]).is_empty());
    }

    #[test]
    fn a_script_with_syntax_errors_still_sends_what_it_imports() {
        let main = "from chains.helpers import helper\ndef main(:\n    return helper(1\n";
        assert_eq!(
            sent(&[("main.eclat", main), ("helpers.eclat", HELPER)]),
            ["helpers.eclat"]
        );
    }

    #[test]
    fn imports_are_found_after_defines() {
        let main = "from chains.LIB import helper\ndef main():\n    return helper(1)\n";
        assert_eq!(
            sent_with(
                &[("main.eclat", main), ("helpers.eclat", HELPER)],
                &["LIB=helpers"]
            ),
            ["helpers.eclat"]
        );
    }

    #[test]
    fn the_file_name_is_kept_as_given() {
        let dir = Dir::new("name", &[("main.eclat", HELPER)]);
        let file = dir.0.join("main.eclat");
        let source = read_source(&file, &[]).expect("readable");
        assert_eq!(source.file_name, file.display().to_string());
        let missing = read_source(&dir.0.join("none.eclat"), &[]).expect_err("missing");
        assert!(
            format!("{missing:#}").contains("cannot read `"),
            "{missing:#}"
        );
    }
}

//! `ign-setup completions SHELL` and `ign-setup man`: generated from the same
//! clap definitions as `--help`, so they never drift from the real flags.

use std::path::Path;

use super::json;
use clap::CommandFactory;

use super::opt::Opt;
use super::output::Report;
use crate::error::{Error, Result};

/// The completion script, written straight to stdout (it is the output; a
/// `--json` wrapper would make it unusable in `source <(...)`).
pub fn completions(shell: clap_complete::Shell) -> Result<Report> {
    let mut cmd = Opt::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ign-setup", &mut script);
    let text = String::from_utf8(script).map_err(|e| Error::Io(e.to_string()))?;
    Ok(Report::done(
        text.clone(),
        json::Completions {
            shell: shell.to_string(),
            script: &text,
        },
    ))
}

/// `ign-setup.1` on stdout, or every page (one per subcommand) into `out`.
pub fn man(out: Option<&Path>) -> Result<Report> {
    let cmd = Opt::command();
    match out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(|e| Error::Io(format!("cannot render the manual page: {e}")))?;
            let text = String::from_utf8_lossy(&page).into_owned();
            Ok(Report::done(text.clone(), json::ManPage { page: &text }))
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Io(format!(
                    "cannot create `{}`: {e}; pass another --out",
                    dir.display()
                ))
            })?;
            clap_mangen::generate_to(cmd, dir).map_err(|e| {
                Error::Io(format!(
                    "cannot write the manual pages into `{}`: {e}",
                    dir.display()
                ))
            })?;
            let mut pages: Vec<String> = std::fs::read_dir(dir)
                .map_err(|e| Error::Io(e.to_string()))?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("ign-setup") && n.ends_with(".1"))
                .collect();
            pages.sort();
            Ok(Report::done(
                format!(
                    "Wrote {} manual pages into {} (man -M {} ign-setup).",
                    pages.len(),
                    dir.display(),
                    dir.parent().unwrap_or(dir).display()
                ),
                json::ManPages {
                    dir: dir.display().to_string(),
                    pages: &pages,
                },
            ))
        }
    }
}

//! `ign-setup config show`: every resolved setting and the layer it came
//! from (flag > environment > config file > default), like
//! `git config --show-origin`. The password itself is never printed.

use super::json;

use super::output::Report;
use super::Context;
use crate::config::{PasswordSource, Source};
use crate::error::Result;

pub fn show(ctx: &Context) -> Result<Report> {
    let s = &ctx.settings;
    let c = &s.connect;
    let secs = |d: Option<std::time::Duration>| d.map(|d| format!("{} s", d.as_secs()));
    let password = match &c.password {
        PasswordSource::Given(_) => "(set, not shown)".to_owned(),
        PasswordSource::File(path) => format!("read from {}", path.display()),
        PasswordSource::Prompt => "asked on the terminal".to_owned(),
    };
    let retention = if s.retention.per_kind.is_empty() {
        s.retention.default.to_string()
    } else {
        let mut parts = vec![format!("{} (every kind)", s.retention.default)];
        for (kind, policy) in &s.retention.per_kind {
            parts.push(format!("{policy} ({kind})"));
        }
        parts.join("; ")
    };
    let rows: Vec<(&str, String)> = vec![
        ("uri", c.uri.to_string()),
        ("user", c.user.clone()),
        ("password", password),
        (
            "database",
            c.database
                .clone()
                .unwrap_or_else(|| "(the server's default database)".into()),
        ),
        (
            "connect_timeout",
            secs(Some(c.connect_timeout)).unwrap_or_default(),
        ),
        (
            "query_timeout",
            secs(c.query_timeout).unwrap_or_else(|| "no limit".into()),
        ),
        ("backup_dir", s.backup_dir.display().to_string()),
        ("migrations_dir", s.migrations_dir.display().to_string()),
        ("retention", retention),
        ("thresholds.nodes", s.thresholds.nodes.to_string()),
        (
            "thresholds.relationships",
            s.thresholds.relationships.to_string(),
        ),
        (
            "thresholds.percentage",
            format!("{:.1} %", s.thresholds.percentage * 100.0),
        ),
        (
            "metrics_file",
            s.metrics_file
                .as_ref()
                .map(|m| m.display().to_string())
                .unwrap_or_else(|| "(none)".into()),
        ),
    ];
    let config_file = ctx
        .config_file
        .as_ref()
        .map(|(path, from)| format!("{} ({from})", path.display()))
        .unwrap_or_else(|| "none (no ign-setup.toml in the working directory)".into());
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let vwidth = rows
        .iter()
        .map(|(_, v)| v.chars().count())
        .max()
        .unwrap_or(0);
    let mut human = format!("Config file: {config_file}\n\n");
    for (key, value) in &rows {
        human.push_str(&format!(
            "{key:<width$}  {value:<vwidth$}  {}\n",
            s.source(key)
        ));
    }
    let settings = rows
        .iter()
        .map(|(key, value)| {
            let source: Source = s.source(key);
            (
                (*key).to_owned(),
                json::Setting {
                    value: value.clone(),
                    source,
                },
            )
        })
        .collect();
    Ok(Report::done(
        human,
        json::ConfigShown {
            config_file: ctx.config_file.as_ref().map(|(p, from)| json::ConfigFile {
                path: p.display().to_string(),
                source: *from,
            }),
            settings,
        },
    ))
}

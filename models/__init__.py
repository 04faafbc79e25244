"""Model presets (TOML) and their model cards (Markdown), installed as `triage.presets_data`."""

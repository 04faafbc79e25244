"""Reports: text / Markdown / JSON / HTML / plots. Renders; computes nothing new."""

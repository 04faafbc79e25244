"""Readers and writers for search exports. `read_file` picks the reader from the content."""

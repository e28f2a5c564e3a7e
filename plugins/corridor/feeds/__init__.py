"""Feed clients and parsers: one module per feed (spec/feeds.md)."""

"""Wire codecs: one module per protocol, each usable as a client front and as a provider wire."""

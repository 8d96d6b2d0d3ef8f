"""finreport: nightly, traceable financial report packs from periodic statements."""

__version__ = "0.1.0"

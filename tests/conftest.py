"""Settings every test shares: no model hub, and I/O retries that do not make the suite wait."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("FINREPORT_IO_RETRY_DELAYS", "[0.2, 0.2]")
os.environ.setdefault("FINREPORT_MAIL_RETRY_DELAYS", "[0.2]")

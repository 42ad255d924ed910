"""Speed measurements, run by hand (``make bench``), never asserted in tests."""

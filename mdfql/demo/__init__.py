"""Generators of demo and benchmark inputs (the bundled sample WARC, crawl-sized WARCs); not
imported by the run path."""

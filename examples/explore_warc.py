"""Explore a WARC interactively with mdfql: run it as a script or paste it cell by cell into a
notebook. Writes the bundled sample first if it is not there."""

from pathlib import Path

import mdfql
from mdfql.demo.sample import write_sample

SAMPLE = Path("sample/sample.warc.gz")
if not SAMPLE.exists():
    write_sample(SAMPLE)

# Every query is a lazy daft.DataFrame: nothing is read until you show or collect it.
pages = mdfql.sql(f"SELECT * FROM read_warc('{SAMPLE}')")
pages.select("url", "status", "content_type", "charset").show(5)

# What did the crawl fetch? Status codes and content types.
mdfql.sql(f"""
    SELECT status, content_type, count(*) AS n
    FROM read_warc('{SAMPLE}') GROUP BY status, content_type ORDER BY n DESC
""").show()

# Why does the URL filter drop pages? One row per rule (the reasons also name the domain or
# word: "domain:example.com", "hard_word:xxx").
mdfql.sql(f"""
    SELECT regexp_replace(url_filter_reason(url), ':.*', '') AS rule, count(*) AS n
    FROM read_warc('{SAMPLE}') WHERE url_score(url) >= 0.5
    GROUP BY 1 ORDER BY n DESC
""").show()

# A session keeps views and attached DataFrames between queries.
session = mdfql.Session()
session.run(f"""
    CREATE VIEW docs AS
      SELECT url, html_title(html) AS title, extract_text(html, url) AS text
      FROM read_warc('{SAMPLE}')
      WHERE status = 200 AND content_type = 'text/html';
""")
langs = session.sql("SELECT lang_id(text).lang AS lang, count(*) AS n FROM docs "
                    "WHERE text IS NOT NULL GROUP BY 1 ORDER BY n DESC")
langs.show()

# Mix SQL and DataFrame code freely: the result of one is a table for the other.
english = session.sql("SELECT url, title, text FROM docs WHERE lang_id(text).lang = 'en'")
session.attach("english", english.limit(100))
session.sql("SELECT title, length(text) AS chars FROM english ORDER BY chars DESC LIMIT 5").show()

"""Sources that turn crawl archives into lazy Daft DataFrames."""

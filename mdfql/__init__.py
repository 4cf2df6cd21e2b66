"""mdfql: curate web-scale training data with SQL compiled to lazy Daft plans."""

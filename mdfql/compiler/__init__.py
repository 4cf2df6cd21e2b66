"""The planner: bound SQL ASTs -> lazy Daft DataFrames (DataFrame operations and Expressions)."""

"""Compiled programs: actions, the relational stages they need, and the plan tree EXPLAIN
prints. Built by `mdfql.compiler`, run by `mdfql.execute`."""
